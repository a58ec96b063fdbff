"""The session-level synchrony test: is there coupling over the whole session so far?

One statistic per feature over the whole session (:func:`session_test`): the lagged Pearson r
over the session's complete pairs in which the follower speaks, its largest |r| over the lags,
ranked among surrogates that keep both voices' timing (for f0, energy and rate the follower's
utterances rotated over their slots, each direction its own follower; circular shifts of the
second voice kept away from the real alignment for voice activity), each surrogate against the
real pairing split where that surrogate is joined (see "Junctions" below). :func:`session_note` says
what a non-significant result can and
cannot mean, from the power measured on real voices (``bench/bench_sync_power.py``). The
windowed synchrony it complements: :mod:`prosync.engine.synchrony`.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..calibration.baseline import MIN_SPEECH, MIN_VOICED
from ..native.surrogate import (
    find_runs,
    frame_runs,
    hold_runs,
    pooled_profiles,
    rotate_runs,
    session_profiles,
)
from .config import SyncConfig, preset_name
from .schema import FEATURES

#: A speaker's IPUs in the series are runs of values joined across gaps of at most this long
#: (s; about the turn tracker's IPU bridging): the hold carries the mean of the last one, and
#: the session test of f0, energy and rate rotates their content over the slots.
RUN_BRIDGE_S = 0.3
#: Fewest surrogates for the session-level test (p can then reach 0.05).
MIN_SESSION_SHIFTS = 19
#: The session test needs this many times ``window + 2 * lag`` of session: with fewer
#: independent alignments its surrogates are too few to be calibrated (real conversations
#: shifted against each other: 12-15 % false positives at 60 s with 8 s windows, 2-7 % at 100 s;
#: bench/bench_sync_null.py).
MIN_SESSION_SPANS = 8
#: The whole-session statistic (``statistic="pooled"``) has no windows; it needs the live
#: preset's 8 x (8 s + 2 x 2 s) whatever the preset (and two shift gaps with the shifts).
MIN_SESSION_TEST_S = 96.0
#: ... and its circular shifts (voice activity) keep at least this plus twice the lag reach
#: away from the real alignment (s; the live window).
MIN_SHIFT_S = 8.0
#: The session test rotates the content of those runs by at least this many runs either way
#: (forward and back to front); with fewer than ``MIN_RUNS`` runs there is no calibrated test (circular shifts
#: instead break the turn-taking, which alone couples energy and rate: 29 % and 67 % false
#: positives on pseudo-dialogues of people who never met).
MIN_ROTATION = 2
MIN_RUNS = 2 * MIN_ROTATION - 1 + (MIN_SESSION_SHIFTS + 1) // 2

#: Features whose session test does not hold its nominal rate on the null sets, with why: no
#: p-value for them (``session_test(guard=False)`` measures it anyway, for the benches).
UNCALIBRATED: dict[str, str] = {}
# (speech rate was here until its surrogates were split at their junction: 9.6 % (15 of 156) of
# shifted real conversations reached p <= 0.05; now 2.6 / 2.7 / 5.0 % live on the real set and
# the pseudo-dialogues in turns and shifted, research 4.0 / 4.7 %, the first 100 s shifted
# 7.2 % (8 of 111); bench/results/sync_null.md)
#: Each speaker's first values of a feature that the session test leaves out (s of the
#: speaker's own values: voicing for f0, speech for energy and rate): while the speaker's
#: baseline warms up (``calibration.baseline``: 3 s of voicing, 5 s of speech), and the running
#: rate fills its window, the values are biased the same way in every voice (300 voices of
#: 150 pseudo-dialogues, mean bias in SD of the voice's later values, ± its standard error, in
#: the first 1 s of own values, 1-3 s, 3-6 s: rate +0.54 ± 0.09, +0.22 ± 0.06, +0.01; energy
#: +0.31, -0.10, -0.01; f0 -0.28, -0.20, -0.07 ± 0.02; bench_sync_null.py --diagnose). Both
#: speakers of a session start together, so the two biases line up at its start in the real
#: pairing and in no surrogate (which moves one speaker's utterances), and the test can read
#: them as coupling. Left out or kept, on 150 pseudo-dialogues in turns (and 300 shifted):
#: p <= 0.05 rate 4.0 vs 5.3 % (4.3 vs 5.0 %), energy 5.3 vs 4.0 % (3.7 vs 5.7 %), f0 3.3 vs
#: 2.0 % (2.7 vs 1.7 %); the 16.7 % (6/36) of speech rate in turns on the first 36 was the
#: set's chance (2 of the next 114). What it costs: a short session has fewer utterances
#: left, and 100 s of real conversation more often too few for a p (rate 111 of 400 sessions
#: with a p instead of 156). Not the default (``session_test(warm_up=True)`` applies it): on
#: the power bench (12 WORLD-resynthesised pseudo-dialogues, bench_sync_power.py --conditions
#: 2) it took the null from 1 to 3 of 12 at 4-5 min (live) and F0 r 0.3 at +0.5 s, research,
#: from 10 to 8 of 12 at 4 min; within chance at 12 sessions, but not the "no worse" it needs.
WARM_UP_S = {"f0": MIN_VOICED / 100.0, "energy": MIN_SPEECH / 100.0, "rate": MIN_SPEECH / 100.0}
#: The pooled statistic reads a lag only where its r rests on at least this much of the
#: follower's speech (s of pairs), in the real pairing and in every surrogate alike: a lag
#: where the follower speaks for a few bins has an |r| up to 1 (real conversations shifted:
#: r = 1.0 on 6 pairs and -1.0 on 19 pairs beat every surrogate).
MIN_PAIRS_S = 10.0
# Junctions. Every surrogate is joined somewhere the real pairing is not: a rotation of a
# speaker's utterances puts the content of the last utterance next to the first's (at the slot
# that gets the first run's content), a circular shift puts the end of the series next to its
# start. A series whose level drifts or steps over the session (speech rate in syllables per
# second, voice activity; on the shifted real conversations a side is a new person every 30 s
# or so) then has one level change more in every surrogate than in the real pairing (a step
# becomes a step and a jump back), so its |r| with the partner's slow course spread narrower
# than the real pairing's, and independent speakers came out significant too often: real
# conversations shifted, speech rate 9.6 % and voice activity 7.8 % at nominal 5 %, the real
# statistic's z among its surrogates with an sd of 1.26 / 1.20 instead of 1 (f0 and energy,
# relative to each speaker's baseline: 0.90 / 0.91). Each surrogate is therefore compared with
# the real pairing *split at its junction*: both speakers' series centred on either side of it
# (each part less the mean of its finite values), in the surrogate and in the real pairing
# alike; it counts against the session when its largest |r| is at least the split real
# pairing's (``_centred_at``; the reported r is the whole real pairing's). Before -> after,
# p <= 0.05 on the live null sets (bench/bench_sync_null.py; real shifted / pseudo-dialogues
# in turns / shifted): rate 9.6 / 5.3 / 5.0 -> 2.6 / 2.7 / 5.0 %, vad 7.8 / - / 0.0 -> 5.5 / - /
# 0.0 % (energy and f0, split alike: 1.1 / 4.0 / 5.7 -> 1.7 / 4.7 / 5.7 % and 1.0 / 2.0 / 1.7 ->
# 1.0 / 2.0 / 2.0 %; they are not split: :data:`UNSPLIT`).
# Not the cause: the surrogates' count (rate 9.6 % with 19 surrogates, 10.1 % with 40) or
# their dependence (rotations; voice activity's 99 shifts, 0.77 s apart, are about 12
# independent ones, but 19 shifts 3.8 s apart gave 7.5 %), nor their pairs (3.5-5.4 % more
# than the real pairing's: a spread about 2 % narrower).

#: Features whose series are relative to each speaker's running baseline (semitones from the
#: running median, dB from the speech level), which takes a speaker's level steps and drift
#: out before the test: their surrogates are not split at the junction ("Junctions"). Split,
#: they moved by a session or two on the null sets (above) but cost planted F0 power (12
#: WORLD-resynthesised dialogues, the same series, live, 5 min: r 0.3 at +0.5 s 9 -> 8 of 12,
#: at +2 s 12 -> 11; bench_sync_power.py --conditions 3).
UNSPLIT = frozenset({"f0", "energy"})

# Stretching. :func:`rotate_runs` resamples a content to its slot's length, so a short
# utterance's values are repeated over a long slot. The pooled r lives mostly between
# utterances (the partner's level is held through the other's turn), and an utterance weighs
# by its bins: a short utterance's mean is noisy and far from the session's mean more often
# (run length against |run mean - session mean|: f0 r -0.26, energy -0.42 on the shifted real
# conversations), and stretched over a long slot it weighs like a long one's. The rotations'
# sum over runs of (length x mean deviation)^2 is about twice the real pairing's (real /
# rotated, median over speakers: f0 0.50, energy 0.23 on the shifted real conversations;
# 0.75 / 0.64 on the shifted pseudo-dialogues), the rotated f0 is smoother (autocorrelation of
# the own values at 0.1 / 0.5 / 1 s: 0.64 / 0.24 / 0.16 real, 0.82 / 0.53 / 0.30 rotated), and
# the surrogates' |r| spread wider than the real pairing's null: the real statistic's z among
# its surrogates -0.36 +- 0.90 for f0 on the real set, p <= 0.05 in 1.0-2.0 % of the live
# null sessions. Not the cause: the hold (the surrogates' hold equals the engine's, value for
# value), the junction (f0 split alike: 1.0 / 2.0 / 2.0 %), the largest |r| over the lags (the
# r at lag 0 alone: 2.5 % on the real set, 0.0 % in turns). :func:`frame_runs` places each
# content at its own rate, none of its values repeated, framing the slot (its first half at
# the onset, its second half ending at the end: each utterance keeps its onset and its end at
# the slot's edges, the turn-taking its shape); a slot longer than its content gets the next
# contents' values in between. No constant. f0, live, p <= 0.05 (bench/bench_sync_null.py's
# sets; real shifted / pseudo-dialogues in turns / shifted), stretched -> framed: 1.0 / 2.0 /
# 1.7 -> 6.0 / 2.0 / 4.0 % (mean p 0.61 / 0.42 / 0.54 -> 0.53 / 0.44 / 0.51); research shifted /
# in turns 1.3 / 6.0 -> 4.0 / 8.7 % (mean p 0.54 / 0.37 -> 0.49 / 0.36); the first 100 s
# shifted / in turns 2.7 / 0.7 -> 3.4 / 2.0 %. Energy is not framed: real shifted 1.1 -> 4.5 %
# (mean p 0.56 -> 0.48), but in turns 4.0 -> 2.0 % live and research (mean p 0.52 -> 0.62,
# 0.46 -> 0.55), and not for the fillers alone: framed with nothing in a longer slot's middle,
# or the content mirrored to fill it (no other utterance), in turns reads as conservative (2.0 /
# 3.3 %, mean p 0.59-0.63; bench/results/sync_null.md "Session 12, energy"), so it comes with
# placing energy at its own rate at all; weighting each utterance alike over-corrects (real
# 10.6 %) and changes what r means. Other
# placements (f0): the content at its own rate and silence after it when shorter (fewer
# pairs): real 4.3 %, shifted 0.7 %; the contents run on across the slot's end (its end no
# longer an utterance's end): real 5.5 %, shifted 3.3 %, in turns 10.0 % (mean p 0.33);
# :func:`splice_runs` (mirrored): 2.0 / 1.3 / 2.7 %. Speech rate is not framed either: framed
# it is liberal on every set (live real shifted / in turns / shifted 2.6 / 2.7 / 5.0 -> 14.1 /
# 8.0 / 8.0 %, research shifted / in turns 4.7 / 4.0 -> 9.0 / 8.7 %; mean p 0.43-0.46), while
# stretched its mean p is 0.47-0.52; framed and not split (:data:`UNSPLIT`), more still: 19.9 /
# 8.7 / 9.0 %, research 10.3 / 10.7 %. On synthetic independent speakers (phrase-level levels,
# overlapping speech, 1000 sessions of 200 s) f0 framed gives 5.8 % [4.5, 7.4], stretched
# 1.9 % [1.2, 2.9] (bench/results/sync_null.md, "Session 12 follow-up").

#: Features whose session test places the rotated contents at their own rate
#: (:func:`frame_runs`, "Stretching"; the pooled statistic only, ``statistic="windows"`` stretches);
#: energy and speech rate stretch them to the slot (:func:`rotate_runs`). A subset of
#: :data:`UNSPLIT`: a framed surrogate joins contents inside slots (a slot's filler, a shorter
#: content's tail), not at the one junction the split describes ("Junctions"), so a split
#: feature cannot be framed until the split follows those joins (tests/test_synchrony.py checks).
FRAMED = frozenset({"f0"})

#: The session test's level: a session is significant when ``p <= ALPHA``
#: (:func:`significant`). The test uses a number of surrogates ``n`` with ``ALPHA * (n + 1)``
#: a whole number (19, 39, 59, 79 or 99), so that under the null ``p <= ALPHA`` has exactly
#: ``ALPHA`` chance: the rank p-value ``(1 + #{null >= real}) / (1 + n)`` takes the values
#: ``1/(n+1), 2/(n+1), ...``, and with ``n + 1`` not a multiple of 20, or with ``p < ALPHA``,
#: the level was lower (32 surrogates and p < 0.05: 1/33 = 3.0 %; 99 and p < 0.05: 4 %), part
#: of why the f0 test was conservative (1.4-2.8 % of null sessions; the rest was the stretched
#: surrogates, "Stretching").
ALPHA = 0.05


def significant(p: float) -> bool:
    """Whether a session test's p-value is significant at :data:`ALPHA` (``p <= ALPHA``;
    False for NaN)."""
    return bool(p <= ALPHA)


def critical_r(null: np.ndarray) -> float:
    """The value a session's statistic must exceed to be significant against the surrogates'
    values ``null``: the ``floor(ALPHA * (n + 1))``-th largest of the ``n`` (the rank p-value
    counts a tie against the session), so that ``significant(p)`` is ``|r| > critical_r``."""
    m = int(math.floor(ALPHA * (len(null) + 1) + 1e-9))
    return float(np.sort(null)[-m]) if 1 <= m <= len(null) else math.inf


def exact_count(k: int) -> int:
    """The largest number of surrogates ``n <= k`` with ``ALPHA * (n + 1)`` whole (0 if none)."""
    step = int(round(1 / ALPHA))
    return max(0, (k + 1) // step * step - 1)


#: Planted coupling strength (r on the engine's series) the power statement is about, and per
#: preset and feature the shortest session (s) in which the session test found it with 80 %
#: power on real voices, with what was planted (``bench/bench_sync_power.py``, 12 pseudo-
#: dialogues of real people resynthesised, the strength planted dialogue by dialogue to within
#: 10 % above the same dialogue's unplanted r, a negative lag in the same dialogues mirrored;
#: bench/RESULTS.md); None: not reached for every lag tried within ``POWER_MAX_S``. Measured
#: on the engine of 0d5e6d5 (f0's surrogates framed; bench/results/sync_power.md, session 12
#: re-run), detected of 12 at 3 / 4 / 5 min, live (p <= 0.05): F0 r 0.3 at +0.5 s 8 / 8 / 10,
#: at +2 s and -2 s 8 / 11 / 12; research (±5 s): +0.5 s 10 / 9 / 9, +2 s 7 / 10 / 10, -2 s
#: 7 / 10 / 11; energy (the planting reached r 0.23, not 0.3) at +1 s live 5 / 9 / 8, research
#: 5 / 8 / 8. Null: 0-17 % (0-2/12). Twelve dialogues: one session moves a cell by 8 points.
#: (On the engine of 7521229 live F0 needed 4 min at +0.5 s and 3 min at ±2 s, research 4.)
POWER_R = 0.3
POWER_MAX_S = 300.0
_ENERGY_POWER = ("67-75 % power at 4 and 5 min when the second speaker follows by 1 s, with r "
                 "0.23 planted, the most the planting reached")
MIN_SESSION_S: dict[str, dict[str, tuple[float | None, str]]] = {
    "live": {"f0": (300.0, "the second speaker following by 0.5 s; 4 min when either follows by "
                           "2 s"),
             "energy": (None, _ENERGY_POWER)},
    "research": {"f0": (None, "at 5 min 75 % when the second speaker follows by 0.5 s, 83-92 % "
                              "when either follows by 2 s"),
                 "energy": (None, _ENERGY_POWER)},
}


@dataclass(frozen=True)
class SessionSync:
    """The session-level synchrony test of one feature (:meth:`SynchronyTracker.session_test`).

    ``r``: the whole session's correlation at ``lag_s``, the lag (up to the preset's reach)
    where the session's lagged correlation has its largest |r| (signed; positive lag: the
    second speaker follows); ``p``: rank p-value of that |r| among the same statistic with
    the follower's utterances rotated over their slots (f0, energy, rate) or the second
    speaker's series
    circularly shifted (vad) (``n_surrogates``; :func:`session_test`); ``r_crit``: the
    surrogates' value a session's |r| must exceed to be significant (:func:`critical_r`:
    ``significant(p)`` is ``|r| > r_crit``; where the surrogates are split at their junction,
    a feature not in :data:`UNSPLIT`, a surrogate's value is the session's |r| plus its margin
    over the real pairing split there, so ``r_crit`` moves with the session's |r|); ``units``:
    the complete pairs behind ``r`` (with
    ``statistic="windows"``: the windows). NaN with a ``reason`` when the session is too short.
    """

    feature: str
    r: float
    lag_s: float
    p: float
    r_crit: float
    units: int
    n_surrogates: int
    duration_s: float
    reason: str = ""


def session_test(s1, s2, cfg: SyncConfig, feature: str = "value",
                 n_surrogates: int | None = None, raw2=None, raw1=None,
                 statistic: str = "pooled", guard: bool = True,
                 warm_up: bool = False) -> SessionSync:
    """Session-level synchrony test of two series at ``cfg.rate_hz`` (NaN = missing).

    Statistic (``"pooled"``, the default): the whole session's lagged correlation, one Pearson
    r per lag (up to ``cfg.lag_s``) over the session's complete pairs in which the follower
    speaks: at a positive lag the second speaker's own values (``raw2`` finite: not held)
    against the first speaker's series, held or not, at a negative lag the reverse (``raw1``),
    at lag 0 either; every complete pair where the raw series are not given; at its largest
    |r|. A coupling that moves a speaker's level from utterance to utterance (a level that
    follows the level the partner spoke at last) lives mostly *between* short windows, which a
    windowed r centres away, and in the follower's speech, not in the leader's speech against
    the follower's held level; the pooled, directed r keeps it (planted F0 coupling on real
    voices: bench/bench_sync_power.py). ``"windows"``: the
    earlier statistic, the mean lag profile over ``cfg``'s windows (r of every window,
    averaged per lag) at its largest |value|. Null: the same statistic for ``n_surrogates``
    (default ``cfg.session_surrogates``) surrogates of the second speaker, or fewer, the
    largest count ``n`` with ``ALPHA * (n + 1)`` whole (:func:`exact_count`), so that
    :func:`significant` (``p <= 0.05``) holds its level exactly. Overlapping
    windows or neighbouring pairs are dependent in the real statistic and in every surrogate
    alike, so the rank p-value needs no independence. Each surrogate is compared with the real
    pairing split at the surrogate's junction (both series centred on either side of it, in
    both; module comment "Junctions"): a drift or a step in a speaker's level is then no
    rarer in the surrogates than in the real pairing (not for a ``feature`` in
    :data:`UNSPLIT`, whose series are relative to the speaker's baseline, nor with
    ``statistic="windows"``: unsplit, as it was). Deterministic (no random draws): the
    same series give the same result however they were pushed.

    Surrogates: with ``raw2`` (the second speaker's series before the hold; f0, energy and
    rate), the content of the speaker's runs of values (IPUs: gaps of at most 0.3 s joined)
    is rotated over the run slots (slot i gets run i + k's values, resampled to its length;
    with the pooled statistic, f0's at their own rate, :func:`frame_runs`, module comment
    "Stretching";
    forward and back to front, for every k at least ``MIN_ROTATION`` runs away) and the hold
    applied again. With ``raw1`` too, each direction rotates its follower: the second
    speaker's runs for the lags where it follows, the first speaker's for the negative lags
    (lag 0: the larger of the two), as many rotations of each, so swapping the speakers
    gives the same test with the lag negated (before, the second speaker's runs were
    rotated for both directions). Both
    speakers' timing, hence the turn-taking, stays exactly as it was, the order of the
    second speaker's utterances too (their drift), and only which utterance sits where
    moves. The turn-taking itself couples the series (the shared rise and fall of every
    utterance, lined up by the alternation of turns), and a test that broke the timing would
    call that F0, energy or rate synchrony (pseudo-dialogues of people who never met, energy
    and rate: 29 % and 67 % false positives with circular shifts, bench/results/sync_null.md).
    ``warm_up=True`` (measured, not the default: :data:`WARM_UP_S`): with the series before
    the hold (``raw2``) and a ``feature`` in :data:`WARM_UP_S`, each speaker's first values
    (their baseline's warm-up) are left out, from the statistic and its surrogates alike (the
    first speaker's only with ``raw1``: without it, ``s1`` is kept whole).
    With ``raw2`` but fewer than ``MIN_RUNS`` (13) runs: no p-value (a ``reason``); nor for a
    ``feature`` in ``UNCALIBRATED`` unless ``guard=False``. Without ``raw2`` (voice
    activity, whose coupling *is* the timing): ``s2`` circularly shifted by shifts spread
    evenly over ``[g, N - g]``, ``g = 8 s + 2 * lag`` (``"windows"``: ``window + 2 * lag``),
    so no shifted pairing falls within the lag reach of the real one.
    """
    if statistic not in ("pooled", "windows"):
        raise ValueError(f"statistic={statistic!r}: use 'pooled' or 'windows'")
    a = np.ascontiguousarray(s1, dtype=np.float64)
    b = np.ascontiguousarray(s2, dtype=np.float64)
    rate = float(cfg.rate_hz)
    lag = int(round(cfg.lag_s * rate))
    win = int(round(cfg.window_s * rate))
    step = max(1, int(round(cfg.step_s * rate)))
    n = len(a)
    k = int(cfg.session_surrogates if n_surrogates is None else n_surrogates)
    # shifts keep this far from the real alignment: a window plus the lag reach either way
    # (the pooled statistic has no window: the live preset's 8 s)
    g = (win if statistic == "windows" else int(round(MIN_SHIFT_S * rate))) + 2 * lag
    avail = n - 2 * g + 1
    nan = math.nan
    need = max(2 * g + MIN_SESSION_SHIFTS - 1,
               MIN_SESSION_SPANS * g if statistic == "windows" else int(MIN_SESSION_TEST_S * rate))
    if n < need:
        return SessionSync(feature, nan, nan, nan, nan, 0, 0, n / rate,
                           f"{n / rate:.0f} s is too short for a calibrated session test: need "
                           f"{need / rate:.0f} s with {cfg.window_s:g} s windows and "
                           f"lags of ±{cfg.lag_s:g} s")
    if guard and feature in UNCALIBRATED:
        return SessionSync(feature, nan, nan, nan, nan, 0, 0, n / rate, UNCALIBRATED[feature])
    nl = 2 * lag + 1
    pre = np.empty((9, n + 1)) if statistic == "windows" else None
    if warm_up and raw2 is not None and feature in WARM_UP_S:
        a, b, raw1, raw2 = _past_warm_up(a, b, raw1, raw2, WARM_UP_S[feature], cfg)

    # the pooled statistic's pairs: the follower's own values (before the hold) against the
    # leader's series, held or not (``pooled_profiles``); every pair without the raw series
    own_a = np.isfinite(raw1).astype(np.float64) if raw1 is not None else np.ones(n)
    own_b = np.isfinite(raw2).astype(np.float64) if raw2 is not None else np.ones(n)
    min_pairs = MIN_PAIRS_S * rate

    def profiles(y, shifts, prof, cnt, x=a):
        if pre is None:
            pooled_profiles(x, y, own_a, own_b, lag, shifts, prof, cnt)
            prof[cnt < min_pairs] = np.nan  # an r of a few pairs is no evidence (|r| up to 1)
        else:
            session_profiles(x, y, win, lag, step, shifts, pre, prof, cnt)
            with np.errstate(invalid="ignore", divide="ignore"):
                prof[:] = np.where(cnt > 0, prof / np.maximum(cnt, 1), np.nan)

    runs = []
    for raw_s in (raw2, raw1) if raw2 is not None else ():
        if raw_s is None:
            break
        raw = np.ascontiguousarray(raw_s, dtype=np.float64)
        starts = np.empty(n, np.int64)
        ends = np.empty(n, np.int64)
        bridge = int(round(RUN_BRIDGE_S * rate))
        nrun = find_runs(raw, bridge, starts, ends)
        if nrun < MIN_RUNS:
            if not runs:
                return SessionSync(feature, nan, nan, nan, nan, 0, 0, n / rate,
                                   f"{nrun} utterances of the second speaker are too few for a "
                                   f"calibrated session test: need {MIN_RUNS}")
            break  # the first speaker's too few: the second's rotations for every lag
        runs.append((raw, starts, ends, nrun))
    if not runs:
        k = exact_count(min(k, avail))
        shifts = np.empty(k + 1, np.int64)
        shifts[0] = 0
        shifts[1:] = g + np.round(np.linspace(0, avail - 1, k)).astype(np.int64)
        prof = np.empty((k + 1, nl))
        cnt = np.empty((k + 1, nl))
        if pre is not None or feature in UNSPLIT:
            profiles(b, shifts, prof, cnt)
        else:  # the surrogates below, each with its own split
            profiles(b, shifts[:1], prof[:1], cnt[:1])
        absm = np.abs(prof)
        split = None if pre is not None or feature in UNSPLIT else np.empty((k + 1, nl))
        pj = np.empty((1, nl))
        cj = np.empty((1, nl))
        for j in range(1, k + 1) if split is not None else ():
            d = int(shifts[j])
            # b shifted by d is b[N - d:] then b[:N - d]: the junction at d, b's split at N - d
            ad = _centred_at(a, d)
            profiles(_centred_at(b, n - d), shifts[j:j + 1], pj, cj, x=ad)
            absm[j] = np.abs(pj[0])
            profiles(_centred_at(b, d), shifts[:1], pj, cj, x=ad)
            split[j] = np.abs(pj[0])
    else:
        hb = int(round(cfg.hold_s * rate))
        # as many rotations of each speaker with runs (at most k in all), every one at least
        # MIN_ROTATION runs away, each content forward and reversed, spread evenly over them
        per = min([k // len(runs)] + [2 * (r[3] - 2 * MIN_ROTATION + 1) for r in runs])
        if per < 10:  # (fewer than 20 surrogates asked for) the second speaker's alone
            runs = runs[:1]
            per = min(k, 2 * (runs[0][3] - 2 * MIN_ROTATION + 1))
        if len(runs) == 1:
            per = k = exact_count(per)
        else:  # 2 x a multiple of 10: p <= 0.05 has 4.8-4.9 % chance (2 x 40: 4/81)
            per = per // 10 * 10
            k = 2 * per
        prof = np.empty((k + 1, nl))
        cnt = np.empty((k + 1, nl))
        zero = np.zeros(1, np.int64)
        profiles(b, zero, prof[:1], cnt[:1])
        absm = np.empty((k + 1, nl))
        absm[0] = np.abs(prof[0])
        sur = np.empty(n)
        held = np.empty(n)
        pj = np.empty((1, nl))
        cj = np.empty((1, nl))
        split = None if pre is not None or feature in UNSPLIT else np.empty((k + 1, nl))
        real_at = {}
        # FRAMED (f0): each content at its own rate, none of its values repeated within its slot
        # ("Stretching"); the rest stretched to the slot
        place = frame_runs if pre is None and feature in FRAMED else rotate_runs
        for side, (raw, starts, ends, nrun) in enumerate(runs):
            rots = [(r, rev) for r in range(MIN_ROTATION, nrun - MIN_ROTATION + 1) for rev in (0, 1)]
            rots = [rots[i] for i in np.round(np.linspace(0, len(rots) - 1, per)).astype(int)]
            for j, (r, rev) in enumerate(rots, 1 + side * per):
                # one speaker rotated, the other as it is: one lag profile per surrogate, like
                # the real one; the slot that gets the first run's content is the junction
                place(raw, starts, ends, nrun, r, bool(rev), sur)
                hold_runs(sur, hb, bridge, held)
                x, y = (a, held) if side == 0 else (held, b)
                if split is None:  # unsplit: the earlier statistic, or f0 and energy
                    profiles(y, zero, pj, cj, x=x)
                    absm[j] = np.abs(pj[0])
                    continue
                tau = int(starts[(nrun - r) % nrun])
                profiles(_centred_at(y, tau), zero, pj, cj, x=_centred_at(x, tau))
                absm[j] = np.abs(pj[0])
                if tau not in real_at:
                    profiles(_centred_at(b, tau), zero, pj, cj, x=_centred_at(a, tau))
                    real_at[tau] = np.abs(pj[0])
                split[j] = real_at[tau]
    ok = np.isfinite(absm).any(axis=1)
    stat = np.full(k + 1, np.nan)
    stat[ok] = np.nanmax(absm[ok], axis=1)
    # each surrogate against the real pairing split where it is joined ("Junctions"), as the
    # session's value plus the surrogate's margin over that split pairing
    if split is not None:
        ok = np.isfinite(split[1:]).any(axis=1)
        at = np.full(k, np.nan)
        at[ok] = np.nanmax(split[1:][ok], axis=1)
        stat[1:] = stat[0] + (stat[1:] - at)
    null = stat[1:][np.isfinite(stat[1:])]
    if len(null) < k:  # a surrogate without a value: the level stays exact
        null = null[:exact_count(len(null))]
    units = int(cnt[0].max()) if nl else 0
    if not math.isfinite(stat[0]) or len(null) < MIN_SESSION_SHIFTS:
        return SessionSync(feature, nan, nan, nan, nan, units, len(null), n / rate,
                           "no lag with a defined correlation (too little speech or voicing: "
                           f"a lag needs {MIN_PAIRS_S:g} s of the follower's own values)")
    j = int(np.nanargmax(absm[0]))
    p = (1.0 + np.sum(null >= stat[0])) / (1.0 + len(null))
    return SessionSync(feature, float(prof[0, j]), (j - lag) / rate, float(p),
                       critical_r(null), units, len(null), n / rate)


def _centred_at(x, tau):
    """``x`` with the mean of its finite values taken out before ``tau`` and from ``tau`` on,
    each part its own (the module comment "Junctions")."""
    y = np.array(x, dtype=np.float64)
    for part in (y[:tau], y[tau:]):
        fin = np.isfinite(part)
        if fin.any():
            part -= part[fin].mean()
    return y


def _past_warm_up(a, b, raw1, raw2, seconds, cfg):
    """Both speakers' series (held and before the hold) without each speaker's first
    ``seconds`` of own values (:data:`WARM_UP_S`), held again from what is left (the hold of
    :func:`hold_runs`, as the surrogates are)."""
    rate = float(cfg.rate_hz)
    k = int(round(seconds * rate))
    hb = int(round(cfg.hold_s * rate))
    bridge = int(round(RUN_BRIDGE_S * rate))
    out = []
    for held, raw in ((a, raw1), (b, raw2)):
        if raw is None:
            out += [held, None]
            continue
        raw = np.array(raw, dtype=np.float64)
        own = np.flatnonzero(np.isfinite(raw))
        raw[:own[k] if k < len(own) else len(raw)] = np.nan
        held = np.empty_like(raw)
        hold_runs(raw, hb, bridge, held)
        out += [held, raw]
    return out[0], out[2], out[1], out[3]


def session_note(t: SessionSync, preset: str) -> str | None:
    """What a session's test can and cannot say: why there is no p-value, or that the session
    is not significant and shorter than the bench found necessary to detect a coupling of
    ``POWER_R`` with 80 % power (so its p > 0.05 is no evidence of no coupling)."""
    if t.reason:
        return t.reason
    need = MIN_SESSION_S.get(preset, {})
    if t.feature not in need:
        return None
    n, planted = need[t.feature]
    what = f"a coupling of r = {POWER_R:g} with 80 % power"
    if significant(t.p):
        return None
    if n is None:
        return (f"not significant is no evidence of no coupling: {POWER_MAX_S / 60:g} minutes "
                f"did not always detect {what} on real voices ({planted}; bench/RESULTS.md)")
    if t.duration_s < n:
        return (f"{t.duration_s:.0f} s is too short to detect {what}: that needs "
                f"{n / 60:g} min ({planted}; bench/RESULTS.md)")
    return None


#: How often (s of session time) the live doors run the session test (:class:`SessionTests`).
SESSION_TEST_EVERY_S = 15.0


@dataclass(frozen=True)
class SessionSyncRow:
    """One ``session_sync`` row of the metric stream: the session test of one feature over the
    session up to ``t_s`` (:class:`SessionSync`, with ``note`` from :func:`session_note`)."""

    t_s: float
    feature: str
    r: float
    lag_s: float
    p: float
    r_crit: float
    units: int
    n_surrogates: int
    note: str = ""

    @classmethod
    def of(cls, t: SessionSync, preset: str) -> SessionSyncRow:
        return cls(round(t.duration_s, 3), t.feature, t.r, round(t.lag_s, 3), t.p, t.r_crit, t.units,
                   t.n_surrogates, session_note(t, preset) or "")


class SessionTests:
    """The session-level test of a live session, every ``every_s`` of session time, off the
    pushing thread: :meth:`poll` copies the series (the only cost on the hot path) and runs
    :func:`session_test` per feature in a one-thread pool (the kernels release the GIL); a
    finished test comes back from :meth:`poll` once, as :class:`SessionSyncRow` rows
    (:class:`~prosync.engine.duplex.Duplex` attaches them to the update it delivers)."""

    def __init__(self, session, every_s: float = SESSION_TEST_EVERY_S):
        self.session = session
        self.every_s = float(every_s)
        self.next_s = self.every_s
        self.preset = preset_name(session.config.sync)
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="prosync-session-test")
        self.future = None

    def poll(self, t_s: float) -> list[SessionSyncRow]:
        """The rows of a test finished since the last call (else ``[]``); starts the next test
        once ``t_s`` (session time) reaches it and none is running."""
        if self.future is not None and self.future.done():
            fut, self.future = self.future, None
            return fut.result()
        if self.future is None and t_s >= self.next_s:
            snap = {f: tuple(None if x is None else x.copy()
                             for x in self.session.synchrony_series(f)) for f in FEATURES}
            self.future = self.pool.submit(_session_rows, snap, self.session.config.sync,
                                           self.preset)
            self.next_s = t_s + self.every_s
        return []

    def wait(self) -> list[SessionSyncRow]:
        """The rows of the running test, waiting for it (``[]`` when none runs)."""
        fut, self.future = self.future, None
        return fut.result() if fut is not None else []

    def close(self) -> None:
        self.future = None
        self.pool.shutdown(wait=False, cancel_futures=True)


def _session_rows(snap: dict, cfg: SyncConfig, preset: str) -> list[SessionSyncRow]:
    return [SessionSyncRow.of(session_test(a, b, cfg, feature=f, raw1=r1, raw2=r2), preset)
            for f, (a, b, r1, r2) in snap.items()]

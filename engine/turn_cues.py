"""The turn-yielding cues at the end of an IPU, relative to the speaker's own baseline.

Gravano & Hirschberg (2011, "Turn-taking cues in task-oriented dialogue", Computer Speech &
Language 25:601-634) found that the likelihood of a turn switch rises roughly *linearly with the
number of turn-yielding cues* shown together. :func:`cue_measures` measures seven raw quantities
at the end of an IPU (physical units, relative to the speaker's baseline; NaN when not
measurable), :data:`MEASURE_NAMES`:

* ``f0_end_st``: the final pitch level, the median F0 of the last 5 voiced frames, in
  semitones re the speaker's median (the last voiced 300 ms, if voicing ended within 500 ms of
  the end of speech and has at least 10 voiced frames there; else NaN);
* ``f0_move_st``: the final movement over those 300 ms of voicing (signed, st: the last 5 voiced
  frames minus the first 5);
* ``energy_drop_db``: the mean level of the last 200 ms of speech minus that of the IPU's
  preceding speech (up to 800 ms; negative = decay);
* ``unvoiced_share``: the share of unvoiced frames among the last 200 ms of speech;
* ``final_syll``: the last voiced run in syllables of the speaker's running rate (final
  lengthening, Duncan 1972's "drawl");
* ``ipu_s``: the IPU's length;
* ``other_share``: the other channel's speech share in the last second of the user's IPU (read
  only up to the end of the user's speech, never during the silence being judged).

:func:`cue_scores` maps them to seven soft counts 0..1 (:data:`CUE_NAMES`), each in the
direction G&H report as turn-yielding: ``cue_f0_move`` |final movement| in quarters of the
speaker's F0 range (a fall or a high rise; a plateau scores 0); ``cue_f0_low`` a final level
below the median in halves of the range; ``cue_energy`` a 12 dB decay = 1; ``cue_voicing`` the
unvoiced share; ``cue_lengthening`` a last voiced run of two syllables or more = 1; ``cue_ipu``
log-scaled between 0.5 s (0) and 4 s (1); ``cue_other`` 1 minus the other's share (a backchannel
during the user's speech signals that the user is expected to go on).

While the baseline warms up (the first seconds of a speaker), its F0 range and rate are not
yet the speaker's: the cues then use population values (8 st, 4 syl/s), and a range is always
held within 4-16 st (an octave error in the histogram otherwise inflates it). The audit behind
these choices (``bench/results/end_of_turn.md``, "Cue audit"): measured per event on the shared
conversations, the earlier version read the F0 movement from the last 25 voiced frames of the
last second (scattered over it when voicing was patchy), divided by ranges of 0.5-1 st from warming-up
baselines, and compared the end's level with the speaker's whole speech level, which every
offset tail is 6 dB under (the energy cue was 1 at 30 of 39 ends).
"""

from __future__ import annotations

import math

import numpy as np

from .config import HOP_S

#: Frames of the last voicing whose F0 gives the final pitch level and movement (300 ms).
F0_WIN = 30
#: ... when that voicing ends within this many frames of the end of speech (500 ms).
F0_REACH = 50
#: Voiced frames at each edge of that window whose median is a level (50 ms).
F0_EDGE = 5
#: Frames of the end of speech for energy decay and voicing loss (200 ms).
END_WIN = 20
#: Frames of the IPU's speech before those, the reference of the energy decay (800 ms).
PRE_WIN = 80
#: Window of the other channel's activity before the user's end of speech (1 s).
OTHER_WIN = 100
#: Population values while a speaker's baseline warms up, and the range's bounds (st).
POP_RANGE_ST, MIN_RANGE_ST, MAX_RANGE_ST, POP_RATE_SPS = 8.0, 4.0, 16.0, 4.0

CUE_NAMES = ("cue_f0_move", "cue_f0_low", "cue_energy", "cue_voicing", "cue_lengthening",
             "cue_ipu", "cue_other")
MEASURE_NAMES = ("f0_end_st", "f0_move_st", "energy_drop_db", "unvoiced_share", "final_syll",
                 "ipu_s", "other_share")


def _median(v: list) -> float:
    """Median of a short list (as np.median, without its per-call overhead)."""
    v = sorted(v)
    n = len(v)
    return 0.5 * (v[(n - 1) // 2] + v[n // 2])


def _clip01(x: float) -> float:
    return 0.0 if not math.isfinite(x) else min(1.0, max(0.0, x))


def speaker_scales(snap) -> tuple[float, float]:
    """The speaker's F0 range (st) and rate (syl/s) for the cues: their own once the baseline
    has warmed up, population values before (see the module doc)."""
    rng, rate = POP_RANGE_ST, POP_RATE_SPS
    if not snap.warming_up:
        if math.isfinite(snap.f0_range_st):
            rng = min(MAX_RANGE_ST, max(MIN_RANGE_ST, snap.f0_range_st))
        if math.isfinite(snap.rate_sps) and snap.rate_sps > 1.0:
            rate = snap.rate_sps
    return rng, rate


def cue_measures(r: dict, snap, ipu_s: float) -> tuple:
    """The seven raw measures (:data:`MEASURE_NAMES`) at the end of the IPU that just ended
    (``ipu_s`` long), from its last frames ``r`` and the user's baseline ``snap`` then."""
    f0, en, vo, sp = r["f0"], r["en"], r["vo"], r["sp"]
    nan = math.nan
    spi = np.flatnonzero(sp)
    end = int(spi[-1]) + 1 if spi.size else sp.shape[0]
    _, rate = speaker_scales(snap)
    # final pitch level and movement: the last 300 ms of voicing, if it ends near the end
    fv = np.flatnonzero(vo & np.isfinite(f0) & (f0 > 0))
    level = move = nan
    tail = fv[fv > fv[-1] - F0_WIN] if fv.size and fv[-1] >= end - F0_REACH else fv[:0]
    if tail.size >= 2 * F0_EDGE:
        st = (12.0 * np.log2(f0[tail])).tolist()
        last = _median(st[-F0_EDGE:])
        move = last - _median(st[:F0_EDGE])
        if math.isfinite(snap.f0_median_st):
            level = last - snap.f0_median_st
    # energy decay and voicing loss over the last 200 ms of speech
    drop = unvoiced = nan
    if spi.size:
        e_end = spi[-END_WIN:]
        unvoiced = 1.0 - int(np.count_nonzero(vo[e_end])) / e_end.size
        pre = spi[-END_WIN - PRE_WIN:-END_WIN]
        if pre.size >= END_WIN:
            drop = float(en[e_end].sum()) / e_end.size - float(en[pre].sum()) / pre.size
    # final lengthening: the last voiced run in syllables of the speaker's rate
    syll = nan
    if fv.size:
        gaps = np.flatnonzero(fv[1:] - fv[:-1] != 1)
        run = fv.size - (int(gaps[-1]) + 1 if gaps.size else 0)
        syll = run * HOP_S * rate
    oth = r["ot"][-OTHER_WIN:]
    other = int(np.count_nonzero(oth)) / oth.size if oth.size else 0.0
    return level, move, drop, unvoiced, syll, float(ipu_s), other


def cue_scores(m: tuple, snap) -> tuple:
    """The seven soft counts 0..1 (:data:`CUE_NAMES`) of raw measures ``m``."""
    level, move, drop, unvoiced, syll, ipu_s, other = m
    rng, _ = speaker_scales(snap)
    return (_clip01(abs(move) / (0.25 * rng)), _clip01(-level / (0.5 * rng)),
            _clip01(-drop / 12.0), _clip01(unvoiced), _clip01(syll - 1.0),
            _clip01(math.log2(max(ipu_s, 1e-3) / 0.5) / 3.0), _clip01(1.0 - other))


def cue_values(r: dict, snap, ipu_s: float) -> tuple:
    """The seven cues (:data:`CUE_NAMES`) at the end of an IPU (see :func:`cue_measures`)."""
    return cue_scores(cue_measures(r, snap, ipu_s), snap)

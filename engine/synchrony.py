"""Streaming synchrony between the two speakers, on speaker-relative series at a common rate.

Every 10 frames (100 ms at the default 10 Hz) each speaker gives one sample per feature:

* ``f0``: mean F0 of the voiced frames in semitones from the speaker's running median
  (NaN when fewer than 3 of the 10 frames are voiced);
* ``energy``: mean energy of the speech frames in dB from the speaker's speech level
  (NaN when fewer than 3 frames are speech);
* ``rate``: mean rolling speech rate over the speech frames (NaN likewise);
* ``vad``: fraction of speech frames (never missing).

Unvoiced and silent stretches are missing values, not zeros; through up to ``hold_s`` (default
4 s) of a speaker's silence the mean of their last run of values (an IPU: gaps up to 0.3 s
joined) is held, causally, so that
speech in turns (one voice mostly silent while the other talks) still gives pairs to correlate
without the spurious negative correlation a held utterance-final value would give
(``native/series.py``); ``hold_s=0`` is the strict form. For each feature a
:class:`~prosync.engine.wcc.StreamingWcc` (rMEA alignment, raw Pearson r) gives a row of lagged
correlations per completed window. Per row we report ``r_lag0``, the Boker et al. (2002) peak
(smoothed |r| profile, first local maximum outward from lag 0 that reaches half the window's
largest |r|: ``lag_s`` and the signed ``r_peak``), and ``z``: the window's peak |r| ranked among
surrogates of the same session that keep both voices' timing (one voice's utterances rotated
over their own slots; voice activity: the other voice at another time), as the normal quantile
of that rank p-value, so ``z > 1.96`` is ``p < 0.025`` (see :class:`SynchronyTracker`).
:meth:`SynchronyTracker.session_test` gives the session-level
test: the whole session's lagged correlation against surrogates of the second voice that keep
both voices' timing (:func:`session_test`). **Positive lag: the second speaker follows the
first.** Synchrony is reported, never a target: the therapy evidence on "more synchrony" is mixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from ..native.series import bin_features, peak_of_abs
from ..native.surrogate import pool_p, shift_surrogates, utterance_surrogates
from .config import HOP_S, SyncConfig
from .session_sync import MIN_ROTATION, RUN_BRIDGE_S, SessionSync, session_test
from .wcc import StreamingWcc

FEATURES = ("f0", "energy", "rate", "vad")
#: Columns of the binned series exposed in :attr:`Update.series` and ``series.parquet``.
SERIES_FIELDS = ("t_s", "f0", "energy", "rate", "vad")
#: Per-bin snapshot of the speaker's baseline, carried with the bins for the pacing.
BASE_FIELDS = ("base_f0_st", "base_level_db", "base_f0_range_st", "base_rate_sps", "n_voiced",
               "n_speech")
MIN_FRAMES = 3
#: Boker peak picking on the |r| profile: 3-lag smoothing, a peak dominates 2 lags either side,
#: and (prosync's guard against noise wiggles near lag 0, which Boker's nearest-to-zero rule
#: otherwise prefers to a distant true peak) its smoothed |r| is at least this fraction of the
#: window's largest |r|.
PEAK_SEARCH = 2
PEAK_MIN_FRACTION = 0.5
#: Fewest finite surrogate peaks in the pool for a window's p-value (and z).
MIN_SURROGATES = 39
#: Window surrogates are drawn once the history holds this many chunks (``window + lag``):
#: the window's own chunk, the separation of one chunk, and one chunk over which a time
#: shift's start can move, so that the first surrogates are not one alignment shifted by a
#: few bins (near copies of each other, which a window beats all at once). With two chunks
#: (surrogates from the first possible bin), windows completing in the first 30 s of a live
#: session reached p < 0.025 in 5-10 % (f0, rate, voice activity) and in the first 2 minutes
#: of a research session 7-9 %, against 1-4 % later (pseudo-dialogues;
#: bench/results/sync_null.md).
MIN_HISTORY_CHUNKS = 3
#: Surrogates added per bin to the pool of the feature whose turn it is (twice that while the
#: pool fills): with 4 features in rotation each pool gains one per bin on average.
REFRESH = 4
#: The window surrogates of f0, energy and rate rotate each speaker's utterances (runs of
#: values, gaps up to ``RUN_BRIDGE_S`` joined) over their own slots, with the contents of this
#: much of the session so far (s; or ``history_s`` when longer): enough utterances for many
#: distinct rotations (bench/bench_sync_null.py).
UTTERANCE_HISTORY_S = 300.0
#: Fewest utterances of each speaker in that span for rotating them: ``MIN_SURROGATES + 1``
#: distinct rotations between the two (forward and back to front, at least ``MIN_ROTATION``
#: away), so that a window beating them all is rare enough (a speaker's 13 utterances alone
#: give 20 distinct values: a window beats them all 1 time in 21 and got p = 0.01). Before
#: that (about the first minute or two of a conversation), time shifts.
WINDOW_MIN_RUNS = 2 * MIN_ROTATION - 1 + (MIN_SURROGATES + 1) // 4
_PROBIT = NormalDist().inv_cdf
#: Presets whose window p-value was measured on the null sets of real speech and holds about
#: its nominal 2.5 % (bench/results/sync_null.md, main 7a66f74): live, utterance rotations,
#: shifted real conversations and pseudo-dialogues shifted or with their turn-taking, 0.8-3.2 %
#: of windows except speech rate on shifted real conversations (4.5 %; 4.0 % on 610869a's
#: ten times larger sets); research,
#: pseudo-dialogues shifted and with their turn-taking, once the first surrogates wait for
#: ``MIN_HISTORY_CHUNKS`` chunks of history, 0.9-3.2 % (was 2.8-6.4 %). Elsewhere (custom
#: settings: never measured) no window is called significant: read the session test.
WINDOW_P_CALIBRATED = frozenset({"live", "research"})
WINDOW_P_NOTE = ("window p-values are not calibrated for these settings (only the live and "
                 "research presets were measured on speakers who never met): read the session "
                 "test")


@dataclass(frozen=True)
class SyncRow:
    t_s: float            # when the row became final (end of the window's forward lag reach)
    window_start_s: float
    feature: str
    r_lag0: float
    r_peak: float
    lag_s: float          # positive: the second speaker follows
    z: float              # normal quantile of the surrogate p-value of the peak |r|
    n_valid: int          # complete pairs at lag 0
    p: float = math.nan   # rank p-value of the peak |r| among time-shift surrogates


class SynchronyTracker:
    """Bins joined frames of two speakers into feature series and updates synchrony.

    Significance (``SyncRow.z``, ``SyncRow.p``): the window's peak |r| over all lags ranked
    among a pool of the feature's last ``cfg.surrogates`` (99) surrogate peaks. For f0,
    energy and rate a surrogate keeps the latest window (``window_s + lag_s``) of one speaker
    and rotates the other's utterances (runs of values) over their own slots, with the
    contents of the last ``UTTERANCE_HISTORY_S`` (5 min) of the session
    (:func:`~prosync.native.surrogate.utterance_surrogates`): both voices keep their timing,
    so the turn-taking, which alone lines up the rise and fall of the utterances, is in the
    surrogates as in the real window, and only which utterance sits where moves. Time shifts
    (the window of one speaker against a chunk of the other from earlier, at least one chunk
    away) broke the turn-taking: on pseudo-dialogues of people who never met 0.0-0.4 % of
    windows reached p < 0.025 (too few), and the research preset's 120 s history gave
    4-6 % (too many; bench/results/sync_null.md). Voice activity, whose coupling is the
    timing, keeps the time shifts (over the same 5 minutes). Until a speaker has
    ``WINDOW_MIN_RUNS`` utterances in that span, time shifts stand in.
    ``p = (1 + #{pool >= peak}) / (1 + n)``, ``z`` its normal quantile (``z > 1.96`` is
    ``p < 0.025``; with 99 surrogates z is at most 2.33). The pools are refreshed bin by bin,
    one feature per bin in rotation (``REFRESH`` surrogates), so the cost is spread evenly
    over the hops; a pool spans about the last 10 s. Until the history holds
    ``MIN_HISTORY_CHUNKS`` chunks and the pool ``MIN_SURROGATES`` values (about 32 s into a
    live session, 107 s into a research one) z and p are NaN. Each
    feature has its own random stream (SplitMix64 seeded from ``cfg.seed``) and work is done
    bin by bin in time order, so results do not depend on push sizes.

    Windows overlap, so their significant share is not a session-level test: that is
    :meth:`session_test`.
    """

    def __init__(self, cfg: SyncConfig, baselines):
        self.cfg = cfg
        self.baselines = baselines  # two SpeakerBaseline objects, updated bin by bin here
        self.per_bin = int(round(1.0 / (cfg.rate_hz * HOP_S)))
        self._carry = [None, None]
        self.wcc = {f: StreamingWcc(cfg.rate_hz, cfg.lag_s, cfg.window_s, cfg.step_s,
                                    fisher_z=False, absolute=False) for f in FEATURES}
        w0 = self.wcc["f0"]
        self.lag = w0.lag_samples
        self.win = w0.window_samples
        self.step = w0.step_samples
        self.chunk = self.win + self.lag
        self.sep = self.chunk  # window surrogates: at least one chunk from the real alignment
        self.hist_len = max(int(round(cfg.history_s * cfg.rate_hz)),
                            MIN_HISTORY_CHUNKS * self.chunk + 1)
        # linear history of the 4 features x 2 speakers; buf[..., 0] is sample self._n - self._len
        self._buf = np.full((len(FEATURES), 2, 2 * self.hist_len + 64), np.nan)
        self._len = self.hist_len  # starts with hist_len missing samples "before the session"
        self._n = 0
        self._scr = np.empty((4, self.chunk))
        self.content_len = max(self.hist_len, int(round(UTTERANCE_HISTORY_S * cfg.rate_hz)))
        self._runs = np.empty((4, self.content_len), np.int64)
        self._sur = np.empty((2, self.content_len))
        self.hold_bins = int(round(cfg.hold_s * cfg.rate_hz))
        self.pool_size = int(cfg.surrogates)
        self._pool = {f: np.full(self.pool_size, np.nan) for f in FEATURES}
        self._pool_pos = dict.fromkeys(FEATURES, 0)
        self._pool_n = dict.fromkeys(FEATURES, 0)
        # the whole session's series (4 features x 2 speakers, then f0/energy/rate before the
        # hold), for the session-level test; grown by doubling
        self._all = np.empty((len(FEATURES) + 3, 2, 4096))
        # one SplitMix64 stream per feature, seeded from cfg.seed (independent of push sizes)
        self._rng = {f: np.random.SeedSequence([int(cfg.seed), i]).generate_state(1, np.uint64)
                     for i, f in enumerate(FEATURES)}
        hb = float(int(round(cfg.hold_s * cfg.rate_hz)))
        self.bridge = int(round(RUN_BRIDGE_S * cfg.rate_hz))
        self._hold = [np.array([[np.nan, -1e18, hb, 0.0, 0.0, self.bridge]] * 3)
                      for _ in range(2)]
        self._bin_count = [0, 0]
        self._queue: list = []  # (bin to compute at, feature, window start, lag profile)
        self._idx = np.empty(1, np.int64)
        self._sm = np.empty((1, 2 * self.lag + 1))
        self._ab = np.empty((1, 2 * self.lag + 1))

    def bin(self, a: np.ndarray, b: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Turn newly joined frames of both speakers (record arrays of equal length) into
        complete 100 ms bins of each feature; frames of an unfinished bin are kept.

        Each bin's frames are added to the speaker's baseline before the bin is made relative
        to it, so the result depends only on the audio, never on how it was split into pushes.
        """
        return [self.bin_one(0, a), self.bin_one(1, b)]

    def bin_one(self, s: int, fr: np.ndarray) -> dict[str, np.ndarray]:
        """:meth:`bin` for speaker ``s`` alone (the speakers' bins are independent: a caller
        may bin them on different hops, as long as both precede :meth:`push`)."""
        if self._carry[s] is not None:
            raw = np.dtype((np.void, fr.dtype.itemsize))  # no per-field promotion
            fr = np.concatenate([self._carry[s].view(raw), fr.view(raw)]).view(fr.dtype)
        m = (len(fr) // self.per_bin) * self.per_bin
        self._carry[s] = fr[m:].copy() if m < len(fr) else None
        vals = self._bins(fr[:m], self.baselines[s], s)
        self._bin_count[s] += m // self.per_bin
        return vals

    def _bins(self, fr, baseline, s_idx) -> dict[str, np.ndarray]:
        p = self.per_bin
        nb = len(fr) // p
        base = np.empty((nb, 6))
        baseline.add_bins(fr, p, base)  # bin by bin: each bin relative to the baseline after it
        feats = np.empty((7, nb))
        if nb:
            bin_features(fr["f0_hz"], fr["voiced"], fr["speech"], fr["energy_db"], fr["rate_sps"],
                         p, MIN_FRAMES, base, self._hold[s_idx], self._bin_count[s_idx], feats)
        out = {k: base[:, i] for i, k in enumerate(BASE_FIELDS)}
        for i, f in enumerate(FEATURES):
            out[f] = feats[i]
        for i, f in enumerate(FEATURES[:3]):
            out["raw_" + f] = feats[4 + i]
        # bin end = last frame centre + half a hop, as the double nearest whole milliseconds
        out["t_s"] = np.rint(fr["t_s"][p - 1::p] * 1000 + 5) / 1000 if nb else np.zeros(0)
        return out

    def _append(self, vals, n_new) -> None:
        buf = self._buf
        if self._len + n_new > buf.shape[2]:
            # staggered rows look back up to 3 bins; a first push may bring fewer than that
            keep = min(self.hist_len + len(FEATURES), self._len)
            if keep + n_new > buf.shape[2]:
                new = np.full((buf.shape[0], 2, 2 * (keep + n_new)), np.nan)
                new[:, :, :keep] = buf[:, :, self._len - keep:self._len]
                self._buf = buf = new
            else:
                buf[:, :, :keep] = buf[:, :, self._len - keep:self._len].copy()
            self._len = keep
        if self._n + n_new > self._all.shape[2]:
            new = np.empty((self._all.shape[0], 2, 2 * (self._n + n_new)))
            new[:, :, :self._n] = self._all[:, :, :self._n]
            self._all = new
        for i, f in enumerate(FEATURES):
            buf[i, 0, self._len:self._len + n_new] = vals[0][f]
            buf[i, 1, self._len:self._len + n_new] = vals[1][f]
            self._all[i, 0, self._n:self._n + n_new] = vals[0][f]
            self._all[i, 1, self._n:self._n + n_new] = vals[1][f]
            if i < 3:  # before the hold; the held series when fed without it
                for s in range(2):
                    self._all[4 + i, s, self._n:self._n + n_new] = vals[s].get("raw_" + f, vals[s][f])
        self._len += n_new
        self._n += n_new

    def update(self, vals: list[dict[str, np.ndarray]]) -> list[SyncRow]:
        """Push the binned series into the streaming WCC; return the rows of completed windows.

        Work is done in time order, bin by bin: at each bin one feature (in rotation) adds
        surrogates to its pool, then the windows that complete at that bin get their rows, so
        the result does not depend on how many bins arrive at once. ``update(vals)`` is
        ``settle(*push(vals))``: a caller may run the two halves on different hops.
        """
        return self.settle(*self.push(vals))

    def push(self, vals: list[dict[str, np.ndarray]]) -> tuple[int, int]:
        """First half of :meth:`update`: the bins into the history and the streaming WCC (the
        windows they complete wait in the queue); returns the bin span for :meth:`settle`.
        The same as :meth:`push_series` then :meth:`push_wcc` (a caller may run them, and
        :meth:`push_wcc` feature by feature, on different hops)."""
        span = self.push_series(vals)
        self.push_wcc(vals)
        return span

    def push_series(self, vals: list[dict[str, np.ndarray]]) -> tuple[int, int]:
        """The bins into the history (first part of :meth:`push`); returns the bin span."""
        n0 = self._n
        n_new = len(vals[0]["vad"])
        if n_new:
            self._append(vals, n_new)
        return n0, self._n

    def push_wcc(self, vals: list[dict[str, np.ndarray]], features=None) -> None:
        """The streaming WCC of the bins ``vals`` for the features of these indices (all by
        default; second part of :meth:`push`): the windows they complete wait in the queue."""
        if len(vals[0]["vad"]) == 0:
            return
        done = []  # (chunk end, feature index, window start, lag profile)
        for i in range(len(FEATURES)) if features is None else features:
            w = self.wcc[FEATURES[i]]
            k = w.push_unchecked(vals[0][FEATURES[i]], vals[1][FEATURES[i]])  # contiguous f64
            for j in range(k):
                ws = int(w._out_win[j]) * w.step_samples
                done.append((ws + self.chunk, i, ws, w._out[j].copy()))
        # the four features' windows complete at the same bin; feature i's row is computed i
        # bins later (its values, time and t_s unchanged), so no bin carries all four
        for end, i, ws, r in done:
            self._queue.append((end + i, i, ws, r))
        if done:
            self._queue.sort(key=lambda q: (q[0], q[1]))

    def settle(self, n0: int, n1: int) -> list[SyncRow]:
        """Second half of :meth:`update` for the bins ``n0:n1`` pushed last: the surrogate
        refresh of each bin and the rows of the windows due by then. Call it before the next
        :meth:`push`."""
        rows = []
        for e in range(n0 + 1, n1 + 1):
            self.refresh(e)
            rows.extend(self.rows_due(e))
        return rows

    def refresh(self, e: int) -> None:
        """The surrogate refresh at bin ``e`` (the first part of :meth:`settle` for one bin)."""
        self._refresh(e, self._n - self._len)

    def rows_due(self, e: int) -> list[SyncRow]:
        """The rows of the windows due by bin ``e`` (the second part of :meth:`settle` for one
        bin, after its :meth:`refresh`)."""
        first = self._n - self._len  # absolute index of buf[..., 0]
        rows = []
        while self._queue and self._queue[0][0] <= e:
            _, i, ws, r = self._queue.pop(0)
            rows.append(self._row(i, ws, r, first))
        return rows

    def flush(self) -> list[SyncRow]:
        """End of the session: the rows still waiting for their turn."""
        first = self._n - self._len
        rows = [self._row(i, ws, r, first) for _, i, ws, r in self._queue]
        self._queue.clear()
        return rows

    def _history(self, i, e, first):
        """Feature ``i``'s history (2, H) ending at absolute sample ``e`` (exclusive): the last
        ``history_s`` of the session so far."""
        h = min(self.hist_len, e)
        return self._buf[i, :, e - first - h:e - first]

    def _refresh(self, e, first) -> None:
        """At the bin ending at sample ``e``: new surrogates for feature ``(e - 1) % 4``."""
        i = (e - 1) % len(FEATURES)
        f = FEATURES[i]
        h = self._history(i, e, first)
        if h.shape[1] < MIN_HISTORY_CHUNKS * self.chunk:  # (sep is one chunk)
            return
        k = REFRESH if self._pool_n[f] >= self.pool_size else 2 * REFRESH
        n = min(e, self.content_len)
        al = self._all
        if i < 3:  # f0, energy, rate: each speaker's utterances rotated over their slots
            self._pool_pos[f] = utterance_surrogates(
                al[i, 0, e - n:e], al[i, 1, e - n:e], al[4 + i, 0, e - n:e], al[4 + i, 1, e - n:e],
                self.win, self.lag, self.sep, self.hold_bins, self.bridge, MIN_ROTATION,
                WINDOW_MIN_RUNS, k,
                self._rng[f], self._scr, self._runs, self._sur, self._pool[f],
                self._pool_pos[f])
        else:  # voice activity, whose coupling is the timing: time shifts, over the same span
            self._pool_pos[f] = shift_surrogates(al[i, 0, e - n:e], al[i, 1, e - n:e], self.win,
                                                 self.lag, self.sep, k, self._rng[f], self._scr,
                                                 self._pool[f], self._pool_pos[f])
        self._pool_n[f] = min(self.pool_size, self._pool_n[f] + k)

    def _row(self, i, ws, r, first) -> SyncRow:
        """One completed window of feature ``i`` starting at sample ``ws``; ``r`` its lag
        profile."""
        f = FEATURES[i]
        lag, rate = self.lag, self.cfg.rate_hz
        end = ws + self.chunk
        h = self._history(i, end, first)
        j = int(peak_of_abs(r, lag, PEAK_SEARCH, PEAK_MIN_FRACTION, self._ab, self._idx, self._sm))
        p, n_valid = pool_p(r, h[0], h[1], self.win, lag, self._pool[f], MIN_SURROGATES)
        return SyncRow(
            t_s=end / rate, window_start_s=ws / rate, feature=f, r_lag0=float(r[lag]),
            r_peak=float(r[j]) if j >= 0 else math.nan,
            lag_s=float((j - lag) / rate) if j >= 0 else math.nan,
            z=-_PROBIT(min(p, 0.999)) if p == p else math.nan, n_valid=int(n_valid), p=float(p),
        )

    def session_series(self, feature: str):
        """``(a, b, raw_a, raw_b)``: the two speakers' series of ``feature`` over the session
        so far and each before the hold (None for ``vad``): views."""
        i = FEATURES.index(feature)
        raw = (self._all[4 + i, 0, :self._n], self._all[4 + i, 1, :self._n]) if i < 3 else (None, None)
        return self._all[i, 0, :self._n], self._all[i, 1, :self._n], *raw

    def session_test(self, features=FEATURES) -> dict[str, SessionSync]:
        """The session-level test of each feature over the session so far (see
        :func:`session_test`); cost grows with the session (about 0.1 s per feature for 5
        minutes), so call it at the end or every few seconds, not every hop."""
        out = {}
        for f in features:
            a, b, raw1, raw2 = self.session_series(f)
            out[f] = session_test(a, b, self.cfg, feature=f, raw2=raw2, raw1=raw1)
        return out

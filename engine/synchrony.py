"""Streaming synchrony between the two speakers, on speaker-relative series at a common rate.

Every 10 frames (100 ms at the default 10 Hz) each speaker gives one sample per feature:

* ``f0``: mean F0 of the voiced frames in semitones from the speaker's running median
  (NaN when fewer than 3 of the 10 frames are voiced);
* ``energy``: mean energy of the speech frames in dB from the speaker's speech level
  (NaN when fewer than 3 frames are speech);
* ``rate``: mean rolling speech rate over the speech frames (NaN likewise);
* ``vad``: fraction of speech frames (never missing).

Unvoiced and silent stretches are missing values, not zeros; a speaker's last value is held
through up to ``hold_s`` (default 4 s) of their silence, causally, so that speech in turns (one
voice mostly silent while the other talks) still gives pairs to correlate; ``hold_s=0`` is the
strict form. For each feature a
:class:`~prosync.engine.wcc.StreamingWcc` (rMEA alignment, raw Pearson r) gives a row of lagged
correlations per completed window. Per row we report ``r_lag0``, the Boker et al. (2002) peak
(smoothed |r| profile, first local maximum outward from lag 0 that reaches half the window's
largest |r|: ``lag_s`` and the signed ``r_peak``), and ``z``: how far the window's peak |r|
lies above segment-shuffled surrogates of the recent history, ``(real - mean) / sd`` (SUSY's
effect size; see :class:`SynchronyTracker`). **Positive lag: the second
speaker follows the first.** Synchrony is reported, never a target: the therapy evidence on
"more synchrony" is mixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..native.series import bin_features, peak_of_abs
from ..native.surrogate import add_surrogates, pool_z
from .config import HOP_S, SyncConfig
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
#: Fewest finite surrogate peaks for a z-score.
MIN_SURROGATES = 5


@dataclass(frozen=True)
class SyncRow:
    t_s: float            # when the row became final (end of the window's forward lag reach)
    window_start_s: float
    feature: str
    r_lag0: float
    r_peak: float
    lag_s: float          # positive: the second speaker follows
    z: float              # peak |r| against segment-shuffled surrogates
    n_valid: int          # complete pairs at lag 0


class SynchronyTracker:
    """Bins joined frames of two speakers into feature series and updates synchrony.

    Significance (``SyncRow.z``): the window's peak |r| over all lags against a pool of the
    last ``cfg.surrogates`` (19) surrogate peaks of the same feature. A surrogate pairs the
    latest window of the first speaker's series with the second speaker's recent history
    (``history_s``, 60 s) cut into ``segment_s`` (2 s) segments put in random order, which
    keeps each voice's own dynamics and breaks their alignment; its peak |r| over all lags goes
    into the pool. The pool is filled at the feature's first window, then refreshed one
    surrogate per bin with the features in rotation (each feature every 0.4 s at 10 Hz, so the
    pool spans the last ~7.6 s), which spreads the cost evenly over the hops instead of
    computing 19 surrogates per window. ``z = (peak - mean(pool)) / sd(pool)``: about 0 under
    independence, large when the coupling in this window exceeds what the same two voices
    give when misaligned. It is an online, within-session screen, not a calibrated p-value
    and not a test against other dyads (that is :mod:`prosync.engine.pseudo`). Each feature
    has its own random stream (SplitMix64 seeded from ``cfg.seed``) and work is done bin by
    bin in time order, so results do not depend on push sizes.
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
        self.seg = max(1, int(round(cfg.segment_s * cfg.rate_hz)))
        self.chunk = self.win + self.lag
        self._min_seg = -(-self.chunk // self.seg)
        nseg = max(-(-int(round(cfg.history_s * cfg.rate_hz)) // self.seg), self._min_seg)
        self.hist_len = nseg * self.seg
        self._nseg = nseg
        # linear history of the 4 features x 2 speakers; buf[..., 0] is sample self._n - self._len
        self._buf = np.full((len(FEATURES), 2, 2 * self.hist_len + 64), np.nan)
        self._len = self.hist_len  # starts with hist_len missing samples "before the session"
        self._n = 0
        self._y = np.empty(self.hist_len)
        self.pool_size = int(cfg.surrogates)
        self._pool = {f: np.full(self.pool_size, np.nan) for f in FEATURES}
        self._pool_pos = dict.fromkeys(FEATURES, -1)  # -1: empty
        # one SplitMix64 stream per feature, seeded from cfg.seed (independent of push sizes)
        self._rng = {f: np.random.SeedSequence([int(cfg.seed), i]).generate_state(1, np.uint64)
                     for i, f in enumerate(FEATURES)}
        hb = float(int(round(cfg.hold_s * cfg.rate_hz)))
        self._hold = [np.array([[np.nan, -1e18, hb]] * 3) for _ in range(2)]
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
        vals = []
        for s, fr in enumerate((a, b)):
            if self._carry[s] is not None:
                raw = np.dtype((np.void, fr.dtype.itemsize))  # no per-field promotion
                fr = np.concatenate([self._carry[s].view(raw), fr.view(raw)]).view(fr.dtype)
            m = (len(fr) // self.per_bin) * self.per_bin
            self._carry[s] = fr[m:].copy() if m < len(fr) else None
            vals.append(self._bins(fr[:m], self.baselines[s], s))
            self._bin_count[s] += m // self.per_bin
        return vals

    def _bins(self, fr, baseline, s_idx) -> dict[str, np.ndarray]:
        p = self.per_bin
        nb = len(fr) // p
        base = np.empty((nb, 6))
        baseline.add_bins(fr, p, base)  # bin by bin: each bin relative to the baseline after it
        feats = np.empty((4, nb))
        if nb:
            bin_features(fr["f0_hz"], fr["voiced"], fr["speech"], fr["energy_db"], fr["rate_sps"],
                         p, MIN_FRAMES, base, self._hold[s_idx], self._bin_count[s_idx], feats)
        out = {k: base[:, i] for i, k in enumerate(BASE_FIELDS)}
        for i, f in enumerate(FEATURES):
            out[f] = feats[i]
        # bin end = last frame centre + half a hop, as the double nearest whole milliseconds
        out["t_s"] = np.rint(fr["t_s"][p - 1::p] * 1000 + 5) / 1000 if nb else np.zeros(0)
        return out

    def _append(self, vals, n_new) -> None:
        buf = self._buf
        if self._len + n_new > buf.shape[2]:
            keep = self.hist_len + len(FEATURES)  # staggered rows look back up to 3 bins
            if keep + n_new > buf.shape[2]:
                new = np.full((buf.shape[0], 2, 2 * (keep + n_new)), np.nan)
                new[:, :, :keep] = buf[:, :, self._len - keep:self._len]
                self._buf = buf = new
            else:
                buf[:, :, :keep] = buf[:, :, self._len - keep:self._len].copy()
            self._len = keep
        for i, f in enumerate(FEATURES):
            buf[i, 0, self._len:self._len + n_new] = vals[0][f]
            buf[i, 1, self._len:self._len + n_new] = vals[1][f]
        self._len += n_new
        self._n += n_new

    def update(self, vals: list[dict[str, np.ndarray]]) -> list[SyncRow]:
        """Push the binned series into the streaming WCC; return the rows of completed windows.

        Work is done in time order, bin by bin: at each bin one feature (in rotation) adds a
        surrogate to its pool, then the windows that complete at that bin get their rows, so
        the result does not depend on how many bins arrive at once.
        """
        n_new = len(vals[0]["vad"])
        if n_new == 0:
            return []
        n0 = self._n
        self._append(vals, n_new)
        first = self._n - self._len  # absolute index of buf[..., 0]
        done = []  # (chunk end, feature index, window start, lag profile)
        for i, f in enumerate(FEATURES):
            w = self.wcc[f]
            k = w.push_unchecked(vals[0][f], vals[1][f])  # the binning made contiguous float64
            for j in range(k):
                ws = int(w._out_win[j]) * w.step_samples
                done.append((ws + self.chunk, i, ws, w._out[j].copy()))
        # the four features' windows complete at the same bin; feature i's row is computed i
        # bins later (its values, time and t_s unchanged), so no bin carries all four
        for end, i, ws, r in done:
            self._queue.append((end + i, i, ws, r))
        self._queue.sort(key=lambda q: (q[0], q[1]))
        rows = []
        for e in range(n0 + 1, self._n + 1):
            self._refresh(e, first)
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
        """Feature ``i``'s history (2, H) ending at absolute sample ``e`` (exclusive), limited to
        whole segments inside the session so far (at least the window's chunk)."""
        nseg = min(self._nseg, max(self._min_seg, e // self.seg))
        return self._buf[i, :, e - first - nseg * self.seg:e - first]

    def _refresh(self, e, first) -> None:
        """At the bin ending at sample ``e``: one new surrogate for feature ``(e - 1) % 4``,
        once its pool has started (at its first window)."""
        i = (e - 1) % len(FEATURES)
        f = FEATURES[i]
        pos = self._pool_pos[f]
        if pos >= 0:
            h = self._history(i, e, first)
            self._pool_pos[f] = add_surrogates(h[0], h[1], self.win, self.lag, self.seg, 1,
                                               self._rng[f], self._y, self._pool[f], pos)

    def _row(self, i, ws, r, first) -> SyncRow:
        """One completed window of feature ``i`` starting at sample ``ws``; ``r`` its lag
        profile."""
        f = FEATURES[i]
        lag, rate = self.lag, self.cfg.rate_hz
        end = ws + self.chunk
        h = self._history(i, end, first)
        if self._pool_pos[f] < 0:  # first window: fill the whole pool
            self._pool_pos[f] = add_surrogates(h[0], h[1], self.win, lag, self.seg,
                                               self.pool_size, self._rng[f], self._y,
                                               self._pool[f], 0)
        j = int(peak_of_abs(r, lag, PEAK_SEARCH, PEAK_MIN_FRACTION, self._ab, self._idx, self._sm))
        z, n_valid = pool_z(r, h[0], h[1], self.win, lag, self._pool[f])
        return SyncRow(
            t_s=end / rate, window_start_s=ws / rate, feature=f, r_lag0=float(r[lag]),
            r_peak=float(r[j]) if j >= 0 else math.nan,
            lag_s=float((j - lag) / rate) if j >= 0 else math.nan,
            z=float(z), n_valid=int(n_valid),
        )

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
(smoothed |r| profile, first local maximum outward from lag 0: ``lag_s`` and the signed
``r_peak``), and ``z``: how far the window's peak |r| lies above segment-shuffled surrogates of
the recent history, ``(real - mean) / sd`` (SUSY's effect size). **Positive lag: the second
speaker follows the first.** Synchrony is reported, never a target: the therapy evidence on
"more synchrony" is mixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..native.surrogate import surrogate_peaks
from ..native.wcc import pick_peaks as _pick_peaks
from .config import HOP_S, SyncConfig
from .wcc import StreamingWcc

FEATURES = ("f0", "energy", "rate", "vad")
#: Columns of the binned series exposed in :attr:`Update.series` and ``series.parquet``.
SERIES_FIELDS = ("t_s", "f0", "energy", "rate", "vad")
#: Per-bin snapshot of the speaker's baseline, carried with the bins for the pacing.
BASE_FIELDS = ("base_f0_st", "base_level_db", "base_f0_range_st", "base_rate_sps", "n_voiced",
               "n_speech")
MIN_FRAMES = 3
#: Boker peak picking on the |r| profile: 3-lag smoothing, a peak dominates 2 lags either side.
PEAK_SEARCH = 2


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
    """Bins joined frames of two speakers into feature series and updates synchrony."""

    def __init__(self, cfg: SyncConfig, baselines):
        self.cfg = cfg
        self.baselines = baselines  # two SpeakerBaseline objects, read at each bin
        self.per_bin = int(round(1.0 / (cfg.rate_hz * HOP_S)))
        self._carry = [None, None]
        self.wcc = {f: StreamingWcc(cfg.rate_hz, cfg.lag_s, cfg.window_s, cfg.step_s,
                                    fisher_z=False, absolute=False) for f in FEATURES}
        self.lag = self.wcc["f0"].lag_samples
        self.win = self.wcc["f0"].window_samples
        self.seg = max(1, int(round(cfg.segment_s * cfg.rate_hz)))
        need = self.win + self.lag
        nseg = max(-(-int(round(cfg.history_s * cfg.rate_hz)) // self.seg), -(-need // self.seg))
        self.hist_len = nseg * self.seg
        self._hist = {f: np.full((2, self.hist_len), np.nan) for f in FEATURES}
        self._n = 0  # samples of each series seen
        self._y = np.empty(self.hist_len)
        self._sur = np.empty(cfg.surrogates)
        self._nseg = nseg
        self._rng = np.random.default_rng(cfg.seed)
        self.hold_bins = int(round(cfg.hold_s * cfg.rate_hz))
        self._held = [{f: (np.nan, -(10**9)) for f in FEATURES} for _ in range(2)]
        self._bin_count = [0, 0]
        self._idx = np.empty(1, np.int64)
        self._sm = np.empty((1, 2 * self.lag + 1))

    def bin(self, a: np.ndarray, b: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Turn newly joined frames of both speakers (record arrays of equal length) into
        complete 100 ms bins of each feature; frames of an unfinished bin are kept.

        Each bin's frames are added to the speaker's baseline before the bin is made relative
        to it, so the result depends only on the audio, never on how it was split into pushes.
        """
        vals = []
        for s, fr in enumerate((a, b)):
            if self._carry[s] is not None and len(self._carry[s]):
                fr = np.concatenate([self._carry[s], fr])
            m = (len(fr) // self.per_bin) * self.per_bin
            self._carry[s] = fr[m:].copy()
            vals.append(self._bins(fr[:m], self.baselines[s], s))
            self._bin_count[s] += m // self.per_bin
        return vals

    def update(self, vals: list[dict[str, np.ndarray]]) -> list[SyncRow]:
        """Push the binned series into the streaming WCC; return the rows of completed windows."""
        n_new = len(vals[0]["vad"])
        if n_new == 0:
            return []
        n_end = self._n + n_new
        rows = []
        for f in FEATURES:
            x, y = vals[0][f], vals[1][f]
            # history covering samples [n_end - len(buf), n_end)
            buf = np.concatenate([self._hist[f], np.stack([x, y])], axis=1)
            res = self.wcc[f].push(x, y)
            for j in range(len(res)):
                ws = int(round(res.window_start_s[j] * self.cfg.rate_hz))
                e = ws + self.win + self.lag          # the window's chunk ends here (exclusive)
                off = e - (n_end - buf.shape[1])      # ... at this index of buf
                h = buf[:, off - self.hist_len:off]
                rows.append(self._row(f, ws, res.matrix[j:j + 1], h))
            self._hist[f] = buf[:, -self.hist_len:]
        self._n = n_end
        rows.sort(key=lambda r: (r.t_s, FEATURES.index(r.feature)))
        return rows

    def _row(self, f, ws, row, h) -> SyncRow:
        """One completed window: ``h`` is the history (2, hist_len) ending with its chunk."""
        lag, win, rate = self.lag, self.win, self.cfg.rate_hz
        r = row[0]
        _pick_peaks(np.abs(row), 1, PEAK_SEARCH, np.nan, lag, self._idx, self._sm)
        i = int(self._idx[0])
        chunk = h[:, self.hist_len - (win + lag):self.hist_len - lag]
        n_valid = int(np.count_nonzero(np.isfinite(chunk[0]) & np.isfinite(chunk[1])))
        return SyncRow(
            t_s=(ws + win + lag) / rate, window_start_s=ws / rate, feature=f,
            r_lag0=float(r[lag]),
            r_peak=float(r[i]) if i >= 0 else float("nan"),
            lag_s=float((i - lag) / rate) if i >= 0 else float("nan"),
            z=self._zscore(r, h), n_valid=n_valid,
        )

    def _zscore(self, r, h) -> float:
        """(real peak |r| - mean of surrogates) / their sd; NaN when undefined."""
        perms = np.argsort(self._rng.random((self.cfg.surrogates, self._nseg)), axis=1)
        fin = np.isfinite(r)
        if not fin.any():
            return float("nan")
        real = float(np.max(np.abs(r[fin])))
        h1 = np.ascontiguousarray(h[0])
        h2 = np.ascontiguousarray(h[1])
        surrogate_peaks(h1, h2, self.win, self.lag, self.seg, perms, self._y, self._sur)
        s = self._sur[np.isfinite(self._sur)]
        if s.size < 5:
            return float("nan")
        sd = s.std(ddof=1)
        return float((real - s.mean()) / sd) if sd > 0 else float("nan")

    def _hold(self, s, f, x):
        """Carry each speaker's last value through up to ``hold_s`` of missing bins (causal
        last-observation-carried-forward), so turn-taking speech, where one voice is mostly
        silent while the other speaks, still gives complete pairs. Older gaps stay missing."""
        if self.hold_bins == 0 or len(x) == 0:
            return x
        last_v, last_i = self._held[s][f]
        idx = np.arange(self._bin_count[s], self._bin_count[s] + len(x))
        ok = np.isfinite(x)
        src = np.maximum.accumulate(np.where(ok, idx, -1))
        vals = np.where(ok, x, np.nan)
        # fill from inside this batch
        j = src - idx[0]
        held = np.where(j >= 0, vals[np.maximum(j, 0)], last_v)
        src = np.where(src >= 0, src, last_i)
        out = np.where(idx - src <= self.hold_bins, held, np.nan)
        if ok.any():
            k = int(np.flatnonzero(ok)[-1])
            self._held[s][f] = (float(x[k]), int(idx[k]))
        return out

    def _bins(self, fr, baseline, s_idx) -> dict[str, np.ndarray]:
        p = self.per_bin
        nb = len(fr) // p
        out = {k: np.empty(nb) for k in BASE_FIELDS}
        ref_st = out["base_f0_st"]
        ref_db = out["base_level_db"]
        for j in range(nb):  # 10 Hz: update the baseline bin by bin
            baseline.add_frames(fr[j * p:(j + 1) * p])
            snap = baseline.snapshot()
            ref_st[j] = snap.f0_median_st
            ref_db[j] = snap.speech_level_db
            out["base_f0_range_st"][j] = snap.f0_range_st
            out["base_rate_sps"][j] = snap.rate_sps
            out["n_voiced"][j] = baseline.n_voiced
            out["n_speech"][j] = baseline.n_speech
        shape = (nb, p)
        v = fr["voiced"].reshape(shape)
        f0 = fr["f0_hz"].astype(np.float64).reshape(shape)
        ok = v & (f0 > 0)
        st = 12.0 * np.log2(np.where(ok, f0, 1.0))
        nv = ok.sum(1)
        sp = fr["speech"].reshape(shape)
        ns = sp.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["f0"] = np.where(nv >= MIN_FRAMES, (st * ok).sum(1) / np.maximum(nv, 1) - ref_st,
                                 np.nan)
            e = fr["energy_db"].astype(np.float64).reshape(shape)
            out["energy"] = np.where(ns >= MIN_FRAMES,
                                     (e * sp).sum(1) / np.maximum(ns, 1) - ref_db, np.nan)
            rt = fr["rate_sps"].astype(np.float64).reshape(shape)
            out["rate"] = np.where(ns >= MIN_FRAMES, (rt * sp).sum(1) / np.maximum(ns, 1), np.nan)
        out["vad"] = ns / p
        for f in ("f0", "energy", "rate"):
            out[f] = self._hold(s_idx, f, out[f])
        out["t_s"] = fr["t_s"][p - 1::p] + 0.005 if nb else np.zeros(0)
        return out

"""Joining two speakers' frames: frames waiting for the other speaker, and cross-talk removal.

A :class:`~prosync.engine.session.Session` analyses each speaker's pushes as they come; the frames
of one speaker wait in a :class:`Pending` queue until the other speaker's frames of the same
times exist, and the joined frames of two microphones go through :class:`CrossTalk` (a voice
heard by both microphones is kept only on the louder one).
"""

from __future__ import annotations

import numpy as np

from ..native.hop import cross_talk
from .config import HOP, SAMPLE_RATE, VadConfig
from .speaker import FRAME_DTYPE, FRAMES_PER_S

#: One frame record as raw bytes: copies of records without field-by-field promotion.
RAW = np.dtype((np.void, FRAME_DTYPE.itemsize))


class Pending:
    """A queue of one speaker's frames: those waiting for the other speaker's frames of the
    same times (and their hop samples, when the session compares the channels), or those not
    binned yet.

    Rows ``lo:hi`` of one record array; grows by doubling, compacts when half is consumed.
    """

    def __init__(self, cap: int = 512, keep_pcm: bool = False):
        self.k0 = 0
        self.keep_pcm = keep_pcm
        self._alloc(cap)
        self.lo = 0
        self.hi = 0
        #: the hop samples of the frames last taken (a view, valid until the next ``add``)
        self.taken_pcm = self.pcm[:0]

    def _alloc(self, cap: int) -> None:
        self.buf = np.zeros(cap, dtype=FRAME_DTYPE)
        self.raw = self.buf.view(RAW)
        self.pcm = np.zeros(cap * HOP if self.keep_pcm else 0, dtype=np.float32)

    @property
    def n(self) -> int:
        return self.hi - self.lo

    def add(self, n: int, frames: np.ndarray, pcm: np.ndarray | None = None) -> None:
        """Append the first ``n`` records of ``frames`` (contiguous) and their hop samples
        ``pcm`` (``n * HOP``; None: silence)."""
        hi = self.hi
        if hi + n > self.buf.shape[0]:
            lo = self.lo
            live, live_pcm = self.raw[lo:hi], self.pcm[lo * HOP:hi * HOP]
            cap = self.buf.shape[0]
            if hi - lo + n > cap // 2:
                cap = max(cap * 2, hi - lo + n)
            self._alloc(cap)
            self.raw[:hi - lo] = live
            if self.keep_pcm:
                self.pcm[:(hi - lo) * HOP] = live_pcm
            self.lo, self.hi = 0, hi - lo
            hi = self.hi
        if n == 1:  # 10 ms pushes: a record assignment is the cheapest copy
            self.buf[hi] = frames[0]
        else:  # copied as raw bytes (a structured assignment goes field by field)
            self.raw[hi:hi + n] = frames[:n].view(RAW)
        if self.keep_pcm:
            if pcm is None:
                self.pcm[hi * HOP:(hi + n) * HOP] = 0.0
            else:
                self.pcm[hi * HOP:(hi + n) * HOP] = pcm[:n * HOP]
        self.hi = hi + n

    def take(self, n: int) -> np.ndarray:
        """The oldest ``n`` frames (a copy); their hop samples in :attr:`taken_pcm`."""
        lo = self.lo
        res = copy_records(self.raw[lo:lo + n])
        self.taken_pcm = self.pcm[lo * HOP:(lo + n) * HOP]
        self.lo = lo + n
        self.k0 += n
        if self.lo == self.hi:
            self.lo = self.hi = 0
        return res


class CrossTalk:
    """Cross-talk removal for two microphones (:func:`prosync.native.hop.cross_talk`): both
    channels' hop samples, the correlation of the channels at small lags where both are speech,
    and the quieter channel's speech dropped where one voice reaches both."""

    def __init__(self, cfg: VadConfig):
        self.win = int(round(cfg.cross_talk_win_s * SAMPLE_RATE))
        self.max_lag = int(round(cfg.cross_talk_max_lag_s * SAMPLE_RATE))
        self.corr_min = cfg.cross_talk_corr
        self.pre = self.win + 2 * self.max_lag
        self.scratch = np.zeros((2, 2 * self.max_lag + 1))
        self.x = np.zeros((2, self.pre), dtype=np.float32)
        self._alloc(100)

    def _alloc(self, cap: int) -> None:
        x = np.zeros((2, self.pre + cap * HOP), dtype=np.float32)
        x[:, :self.pre] = self.x[:, :self.pre]
        self.x = x
        self.corr = np.zeros(cap)
        self.need = np.zeros(cap, dtype=np.bool_)

    def apply(self, a: np.ndarray, b: np.ndarray, pcm_a, pcm_b, n: int) -> None:
        """Frames ``a``, ``b`` (records of the same ``n`` times, flags changed in place) and
        their hop samples."""
        if self.corr.shape[0] < n:
            self._alloc(max(n, 2 * self.corr.shape[0]))
        cross_talk(self.x, self.pre, pcm_a, pcm_b, n, HOP, self.win, self.max_lag, self.corr_min,
                   a["energy_db"], a["speech"], a["speech_raw"], b["energy_db"], b["speech"],
                   b["speech_raw"], self.need, self.corr, self.scratch)


def copy_records(raw: np.ndarray) -> np.ndarray:
    """A copy of frame records given as a :data:`RAW` view (a structured array's own ``copy``
    goes field by field: several times slower for one or a few records)."""
    return np.ndarray(raw.shape, FRAME_DTYPE, raw.copy())


def silent_frames(k0: int, n: int) -> np.ndarray:
    """``n`` frames of silence from frame ``k0`` (a speaker with less audio at the end)."""
    out = np.zeros(n, dtype=FRAME_DTYPE)
    out["t_s"] = (np.arange(k0, k0 + n) + 0.5) / FRAMES_PER_S
    out["f0_hz"][:] = np.nan
    out["energy_db"][:] = -120.0
    out["nucleus_age"][:] = -1
    return out

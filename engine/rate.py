"""Speech rate without ASR: online syllable nuclei, syllables per second over a rolling window."""

from __future__ import annotations

import numpy as np

from ..native.nuclei import nuclei_online, rolling_count
from .config import HOP_S, RateConfig


class RateTracker:
    """Counts syllable nuclei and reports ``rate_sps`` over the last ``window_s`` seconds.

    The rate at frame ``k`` counts the nuclei confirmed by frame ``k`` whose time lies in the
    window ending at frame ``k``.
    """

    def __init__(self, cfg: RateConfig):
        self.cfg = cfg
        self._state = np.full(6, np.nan)
        self._state[3] = -1.0
        self._win = max(1, int(round(cfg.window_s / HOP_S)))
        # nuclei are at least 2 frames apart, so the window holds at most win//2 + 1 of them
        self._ring = np.full(self._win // 2 + 2, -(10**12), dtype=np.int64)
        self._head = np.zeros(1, dtype=np.int64)

    def process(self, k0, n, intensity_db, voiced, out_nucleus_age, out_rate_sps):
        nuclei_online(intensity_db, voiced, n, self._state, self.cfg.min_dip_db,
                      self.cfg.silence_db, out_nucleus_age)
        rolling_count(k0, n, out_nucleus_age, self._ring, self._head, self._win, out_rate_sps)

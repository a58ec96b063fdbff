"""Causal pitch tracker: YIN with a voicing decision from periodicity and relative energy."""

from __future__ import annotations

import numpy as np

from ..native.pitch import voicing, yin_frames
from .config import HOP, SAMPLE_RATE, PitchConfig

#: Analysis window of the difference function (samples at 16 kHz).
WIN = 400


class PitchTracker:
    """Per-speaker F0 and periodicity, one value per 10 ms hop.

    Frame ``i`` of a call to :meth:`process` is centred on ``x[c0 + i*HOP]``. The tracker reads
    ``LOOKBEHIND`` samples before and ``LOOKAHEAD`` samples after each centre.
    """

    def __init__(self, cfg: PitchConfig, max_frames: int):
        self.cfg = cfg
        self.tau_min = int(SAMPLE_RATE // cfg.ceiling_hz)
        self.tau_max = int(np.ceil(SAMPLE_RATE / cfg.floor_hz))
        half = (WIN + self.tau_max) // 2
        self.LOOKBEHIND = half
        self.LOOKAHEAD = WIN + self.tau_max - half
        self._d = np.zeros(self.tau_max + 1)
        self._tau = np.zeros(max_frames)
        self._aper = np.zeros(max_frames)
        self._level = np.zeros(max_frames)
        self._peak_db = -60.0

    @property
    def lookahead_s(self) -> float:
        return self.LOOKAHEAD / SAMPLE_RATE

    def process(self, x, c0, n, energy_db, out_f0, out_periodicity, out_voiced):
        yin_frames(x, c0, n, HOP, WIN, self.tau_min, self.tau_max, 0.15, self._d,
                   self._tau, self._aper)
        # speaker level: slowly decaying running peak of the frame energy
        for i in range(n):
            self._peak_db = max(energy_db[i], self._peak_db - 0.002)
            self._level[i] = self._peak_db
        voicing(self._tau, self._aper, energy_db, self._level, n, float(SAMPLE_RATE), 0.35, 35.0,
                out_f0, out_voiced)
        np.subtract(1.0, self._aper[:n], out=out_periodicity[:n])

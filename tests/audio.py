"""Signals with known answers for the tests (generated, nothing downloaded)."""

from __future__ import annotations

import numpy as np

SR = 16000


def harmonic(f0_hz, dur_s, sr=SR, amp=0.3, n_harm=8, seed=None):
    """A harmonic complex (glottal-like 1/k spectrum) at a constant F0."""
    t = np.arange(int(dur_s * sr)) / sr
    x = sum(np.sin(2 * np.pi * k * f0_hz * t) / k for k in range(1, n_harm + 1))
    x = amp * x / np.max(np.abs(x))
    if seed is not None:
        x = x + np.random.default_rng(seed).normal(0, 1e-3, x.shape)
    return x.astype(np.float32)


def dialogue(sr=SR, seed=0):
    """Two speakers taking turns: syllable-like bursts of harmonic sound with known IPUs.

    Returns ``(a, b, ipus)`` with ``ipus = {"a": [(start_s, end_s)], "b": [...]}``.
    """
    rng = np.random.default_rng(seed)
    dur = 12.0
    n = int(dur * sr)
    a = rng.normal(0, 3e-4, n).astype(np.float32)
    b = rng.normal(0, 3e-4, n).astype(np.float32)
    ipus = {"a": [(0.5, 2.5), (6.0, 8.0)], "b": [(3.0, 5.2), (7.8, 10.5)]}
    for spk, f0, sig in (("a", 210.0, a), ("b", 110.0, b)):
        for st, en in ipus[spk]:
            seg = harmonic(f0, en - st, sr)
            # syllable-rate amplitude modulation at 4 Hz
            tt = np.arange(len(seg)) / sr
            seg = seg * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * tt - np.pi / 2)).astype(np.float32)
            i0 = int(st * sr)
            sig[i0:i0 + len(seg)] += seg
    return a, b, ipus

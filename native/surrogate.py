"""Segment-shuffle surrogates for the significance of windowed cross-correlation."""

import numpy as np

from ._jit import jit
from .wcc import pair_corr


@jit
def peak_abs_r(h1, y, a0, win, lag):
    """Largest |r| over lags -lag..lag between ``h1`` and ``y`` for the window starting at ``a0``
    (rMEA alignment: positive lag pairs ``h1[a0+k]`` with ``y[a0+L+k]``); NaN if every lag is NA."""
    best = np.nan
    for L in range(-lag, lag + 1):
        a = a0 + (-L if L < 0 else 0)
        b = a0 + (L if L > 0 else 0)
        r = pair_corr(h1, y, a, b, win)
        if r == r:
            r = abs(r)
            if not (best == best) or r > best:
                best = r
    return best


@jit
def surrogate_peaks(h1, h2, win, lag, seg, perms, y, out):
    """Peak |r| of ``h1`` against segment-shuffled copies of ``h2``.

    ``h1``, ``h2``: the last ``H = nseg*seg`` samples of both series; the window under test is the
    last ``win + lag`` samples. For surrogate ``k`` the segments of ``h2`` (``seg`` samples each)
    are put in the order ``perms[k]`` (into scratch ``y``), which keeps each series' own dynamics
    within segments and destroys their alignment in time. ``out[k]`` is the surrogate's peak |r|.
    """
    H = h1.shape[0]
    nseg = perms.shape[1]
    a0 = H - (win + lag)
    for k in range(perms.shape[0]):
        for s in range(nseg):
            src = perms[k, s] * seg
            for j in range(seg):
                y[s * seg + j] = h2[src + j]
        out[k] = peak_abs_r(h1, y, a0, win, lag)

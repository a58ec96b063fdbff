"""Per-speaker baseline kernels: fixed histograms with incrementally tracked quantiles.

State (preallocated by ``calibration.baseline.SpeakerBaseline``):

* ``h``   int64[H_TOTAL]  the histograms side by side: F0 (0.1 st bins re 1 Hz, 0..120 st),
  speech level and noise (0.5 dB bins from -120 dB), running rate (0.05 syl/s bins, 0..10);
* ``cnt`` int64[2 + NQ]   voiced frames (valid F0) and speech frames seen, then the total
  count of each tracked quantile's histogram;
* ``q``   int64[2, NQ]    per tracked quantile: its bin (-1: histogram empty) and the count of
  values in bins up to and including it.

A tracked quantile is the first bin ``i`` whose cumulative count reaches ``p * total`` (what
``numpy.searchsorted(numpy.cumsum(hist), p * total)`` gives). Adding a value at or below the
bin raises its cumulative count; the bin then moves a few steps at most, so a snapshot after
every 100 ms costs O(frames + moves), not O(bins).
"""

import numpy as np

from ._jit import jit

ST_BINS = 1200
DB_LO = -120.0
DB_BINS = 260
RATE_BINS = 200
#: Offsets of the histograms in ``h``.
OFF_F0 = 0
OFF_LEVEL = OFF_F0 + ST_BINS
OFF_NOISE = OFF_LEVEL + DB_BINS
OFF_RATE = OFF_NOISE + DB_BINS
H_TOTAL = OFF_RATE + RATE_BINS
#: Tracked quantiles: (histogram offset, size, probability), in this order.
Q_F0_MED, Q_F0_LO, Q_F0_HI, Q_LEVEL_MED, Q_NOISE_LO, Q_RATE_MED = range(6)
NQ = 6
Q_OFF = np.array([OFF_F0, OFF_F0, OFF_F0, OFF_LEVEL, OFF_NOISE, OFF_RATE], np.int64)
Q_SIZE = np.array([ST_BINS, ST_BINS, ST_BINS, DB_BINS, DB_BINS, RATE_BINS], np.int64)
Q_P = np.array([0.5, 0.05, 0.95, 0.5, 0.1, 0.5], np.float64)


@jit
def f0_bin(f0):
    """F0 histogram bin of a frequency in Hz (> 0): 0.1 st re 1 Hz, truncated, clipped."""
    i = np.int64(12.0 * np.log2(f0) * 10.0)
    return min(max(i, 0), ST_BINS - 1)


@jit
def db_bin(e):
    i = np.int64((e - DB_LO) * 2.0)
    return min(max(i, 0), DB_BINS - 1)


@jit
def rate_bin(r):
    i = np.int64(r * 20.0)
    return min(max(i, 0), RATE_BINS - 1)


@jit
def _add(h, q, cnt, k, i_abs):
    """One value into histogram bin ``i_abs`` of ``h`` (histogram at offset ``k``); keep the
    tracked quantiles' totals and cumulative counts."""
    h[i_abs] += 1
    for j in range(NQ):
        if Q_OFF[j] == k:
            cnt[2 + j] += 1
            if q[0, j] >= 0 and i_abs - k <= q[0, j]:
                q[1, j] += 1


@jit
def _settle_one(h, q, j, off, size, t):
    pos = q[0, j]
    cum = q[1, j]
    if pos < 0:
        pos = 0
        cum = h[off]
    while pos > 0 and cum - h[off + pos] >= t:
        cum -= h[off + pos]
        pos -= 1
    while cum < t and pos < size - 1:
        pos += 1
        cum += h[off + pos]
    q[0, j] = pos
    q[1, j] = cum


@jit
def init_quantiles(h, q, cnt):
    """(Re)compute every tracked quantile from scratch (after loading a profile)."""
    for j in range(NQ):
        q[0, j] = -1
        q[1, j] = 0
        if cnt[2 + j] > 0:
            _settle_one(h, q, j, Q_OFF[j], Q_SIZE[j], Q_P[j] * cnt[2 + j])


@jit
def add_bins(f0, voiced, speech, energy, rate, per_bin, h, q, cnt, out):
    """Add frames bin by bin (``per_bin`` frames each) and snapshot the baseline after each.

    ``out[b]``: F0 median (st re 1 Hz), speech level median (dB), F0 5-95 % range (st), rate
    median (syl/s), voiced and speech frames so far, after bin ``b``'s frames were added; NaN
    where the histogram is empty. Non-finite energies and rates are not counted.
    """
    nb = out.shape[0]
    for b in range(nb):
        for k in range(b * per_bin, (b + 1) * per_bin):
            fv = f0[k]
            if voiced[k] and fv > 0.0 and fv < np.inf:
                _add(h, q, cnt, OFF_F0, OFF_F0 + f0_bin(fv))
                cnt[0] += 1
            e = energy[k]
            if speech[k]:
                cnt[1] += 1
                if e == e and abs(e) < np.inf:
                    _add(h, q, cnt, OFF_LEVEL, OFF_LEVEL + db_bin(e))
                r = rate[k]
                if r == r and abs(r) < np.inf:
                    _add(h, q, cnt, OFF_RATE, OFF_RATE + rate_bin(r))
            elif e == e and abs(e) < np.inf:
                _add(h, q, cnt, OFF_NOISE, OFF_NOISE + db_bin(e))
        for j in range(NQ):
            if cnt[2 + j] > 0:
                _settle_one(h, q, j, Q_OFF[j], Q_SIZE[j], Q_P[j] * cnt[2 + j])
        snapshot(q, cnt, out[b])


@jit
def snapshot(q, cnt, o):
    """F0 median (st), level median (dB), F0 range (st), rate median, voiced and speech frames."""
    o[0] = (q[0, Q_F0_MED] + 0.5) * 0.1 if q[0, Q_F0_MED] >= 0 else np.nan
    o[1] = DB_LO + (q[0, Q_LEVEL_MED] + 0.5) * 0.5 if q[0, Q_LEVEL_MED] >= 0 else np.nan
    o[2] = (q[0, Q_F0_HI] - q[0, Q_F0_LO]) * 0.1 if q[0, Q_F0_HI] >= 0 else np.nan
    o[3] = (q[0, Q_RATE_MED] + 0.5) * 0.05 if q[0, Q_RATE_MED] >= 0 else np.nan
    o[4] = cnt[0]
    o[5] = cnt[1]

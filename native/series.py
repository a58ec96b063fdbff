"""Binning of one speaker's 10 ms frames into the speaker-relative synchrony series."""

import numpy as np

from ._jit import jit
from .wcc import pick_peaks


@jit
def bin_features(f0, voiced, speech, energy, rate, per_bin, min_frames, base, hold, bin0, out):
    """Fill ``out[:, b]`` = (f0, energy, rate, vad) for ``nb = out.shape[1]`` bins of ``per_bin``
    frames (feature rows contiguous).

    * f0: mean F0 of the voiced frames (F0 > 0) in semitones re 1 Hz, minus ``base[b, 0]`` (the
      speaker's median after this bin), NaN when fewer than ``min_frames`` frames are voiced;
    * energy: mean energy (dB) of the speech frames minus ``base[b, 1]`` (speech level);
    * rate: mean rolling rate (syl/s) of the speech frames (both NaN below ``min_frames``);
    * vad: the fraction of speech frames (never missing).

    ``hold`` (float64[3, 3]): per feature f0/energy/rate, the last finite value, the bin index
    it came from and the hold length in bins (``hold[f, 2]``, same for all). A missing value is
    replaced by the last finite one when that is at most the hold length older (causal
    last-observation-carried-forward); ``bin0`` is the index of the first bin here.
    """
    nb = out.shape[1]
    hb = hold[0, 2]
    for b in range(nb):
        nv = 0
        ns = 0
        s_st = 0.0
        s_e = 0.0
        s_r = 0.0
        for k in range(b * per_bin, (b + 1) * per_bin):
            fv = f0[k]
            if voiced[k] and fv > 0.0:
                s_st += 12.0 * np.log2(np.float64(fv))
                nv += 1
            if speech[k]:
                s_e += energy[k]
                s_r += rate[k]
                ns += 1
        vals = (s_st / nv - base[b, 0] if nv >= min_frames else np.nan,
                s_e / ns - base[b, 1] if ns >= min_frames else np.nan,
                s_r / ns if ns >= min_frames else np.nan)
        idx = bin0 + b
        for f in range(3):
            v = vals[f]
            if v == v:
                hold[f, 0] = v
                hold[f, 1] = idx
            elif hb > 0 and hold[f, 1] > -1e9 and idx - hold[f, 1] <= hb:
                v = hold[f, 0]
            out[f, b] = v
        out[3, b] = ns / per_bin


@jit
def peak_of_abs(r, lag, search, frac, ab, idx, sm):
    """Boker peak of the |r| profile ``r`` (2*lag+1,): 3-lag smoothing, ``search`` lags, and a
    smoothed |r| of at least ``frac`` x the largest finite |r| (``native.wcc.pick_peaks``).
    ``ab``, ``sm``: scratch (1, 2*lag+1); returns the column or -1."""
    mx = np.nan
    for c in range(r.shape[0]):
        v = abs(r[c])
        ab[0, c] = v
        if v == v and (mx != mx or v > mx):
            mx = v
    pick_peaks(ab, 1, search, frac * mx, lag, idx, sm)
    return idx[0]

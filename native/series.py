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
    * rate: mean running rate (syl/s) of the speech frames with a rate (NaN below
      ``min_frames`` of them: the speaker's first second of speech has none);
    * vad: the fraction of speech frames (never missing);
    * when ``out`` has 7 rows, rows 4-6 get f0, energy and rate before the hold (NaN where
      missing), for the session test's surrogates.

    ``hold`` (float64[3, 6]): per feature f0/energy/rate, the last finite value, the bin index
    it came from, the hold length in bins (``hold[f, 2]``, same for all), the sum and count of
    the current run (the finite values since the last gap longer than ``hold[f, 5]`` bins: an
    IPU), and that bridge. A missing value is replaced by the mean of the last run when the
    last finite value is at most the hold length older (causal); ``bin0`` is the index of the
    first bin here.

    The run mean, not the last value, is held: in turn-taking one voice is held while the other
    speaks, and a held utterance-final value (low, by declination) against the partner's
    utterance-initial values (high) correlates negatively for any two voices, coupled or not.
    A held run mean leaves no such covariance, while a level that follows the partner's level
    from turn to turn still correlates.
    """
    nb = out.shape[1]
    hb = hold[0, 2]
    for b in range(nb):
        nv = 0
        ns = 0
        s_st = 0.0
        s_e = 0.0
        s_r = 0.0
        nr = 0
        for k in range(b * per_bin, (b + 1) * per_bin):
            fv = f0[k]
            if voiced[k] and fv > 0.0:
                s_st += 12.0 * np.log2(np.float64(fv))
                nv += 1
            if speech[k]:
                s_e += energy[k]
                ns += 1
                if rate[k] == rate[k]:
                    s_r += rate[k]
                    nr += 1
        vals = (s_st / nv - base[b, 0] if nv >= min_frames else np.nan,
                s_e / ns - base[b, 1] if ns >= min_frames else np.nan,
                s_r / nr if nr >= min_frames else np.nan)
        idx = bin0 + b
        for f in range(3):
            v = vals[f]
            if v == v:
                if hold[f, 1] < -1e9 or idx - hold[f, 1] > hold[f, 5] + 1:  # a new run
                    hold[f, 3] = 0.0
                    hold[f, 4] = 0.0
                hold[f, 0] = v
                hold[f, 1] = idx
                hold[f, 3] += v
                hold[f, 4] += 1.0
            elif hb > 0 and hold[f, 1] > -1e9 and idx - hold[f, 1] <= hb:
                v = hold[f, 3] / hold[f, 4]
            out[f, b] = v
            if out.shape[0] > 4:
                out[4 + f, b] = vals[f]
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

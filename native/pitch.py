"""Pitch kernels: YIN difference function, cumulative-mean normalisation, best-candidate pick.

de Cheveigné & Kawahara (2002), "YIN, a fundamental frequency estimator for speech and music",
JASA 111(4): steps 2 (difference function), 3 (cumulative mean normalised difference),
4 (absolute threshold) and 5 (parabolic interpolation).
"""

import numpy as np

from ._jit import jit


@jit
def yin_frames(x, c0, n, hop, win, tau_min, tau_max, threshold, d, out_tau, out_aper):
    """Raw YIN estimate for ``n`` frames.

    Frame ``i`` is centred on ``c = c0 + i*hop``; it compares ``x[s : s+win]`` with
    ``x[s+tau : s+tau+win]`` where ``s = c - (win + tau_max)//2``.

    Parameters
    ----------
    x : float32[:] signal at 16 kHz.
    d : float64[tau_max + 1] scratch array (caller-owned).
    out_tau : float64[n] period in samples (parabolic interpolation), 0 when no candidate.
    out_aper : float64[n] aperiodicity (CMNDF value at the chosen lag, 0 = perfectly periodic, 1 = noise).
    """
    half = (win + tau_max) // 2
    for i in range(n):
        s = c0 + i * hop - half
        # step 2: difference function d(tau)
        d[0] = 0.0
        for tau in range(1, tau_max + 1):
            acc = 0.0
            for j in range(win):
                v = x[s + j] - x[s + j + tau]
                acc += v * v
            d[tau] = acc
        # step 3: cumulative mean normalised difference, in place
        run = 0.0
        d[0] = 1.0
        for tau in range(1, tau_max + 1):
            run += d[tau]
            d[tau] = d[tau] * tau / run if run > 0.0 else 1.0
        # step 4: first dip below threshold, else global minimum
        best = -1
        for tau in range(tau_min, tau_max + 1):
            if d[tau] < threshold:
                while tau + 1 <= tau_max and d[tau + 1] < d[tau]:
                    tau += 1
                best = tau
                break
        if best < 0:
            best = tau_min
            for tau in range(tau_min, tau_max + 1):
                if d[tau] < d[best]:
                    best = tau
        # step 5: parabolic interpolation
        t = float(best)
        if tau_min < best < tau_max:
            a, b, c = d[best - 1], d[best], d[best + 1]
            den = a - 2.0 * b + c
            if den > 0.0:
                t = best + 0.5 * (a - c) / den
        out_tau[i] = t
        out_aper[i] = min(max(d[best], 0.0), 1.0)


@jit
def voicing(tau, aper, energy_db, level_db, n, sr, aper_max, rel_db, out_f0, out_voiced):
    """Voicing from periodicity and energy relative to the speaker's level.

    A frame is voiced when its aperiodicity is below ``aper_max`` and its energy is above
    ``level_db[i] - rel_db``. ``out_f0`` is NaN for unvoiced frames.
    """
    for i in range(n):
        v = aper[i] < aper_max and energy_db[i] > level_db[i] - rel_db and tau[i] > 0.0
        out_voiced[i] = v
        out_f0[i] = sr / tau[i] if v else np.nan

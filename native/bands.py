"""The energy the VAD decides on: the frame's energy in one band, or the best of several bands'
energies over their own noise floors (a noise whose power lies in other bands does not mask the
speech in the band where it stands out)."""

import numpy as np

from ._jit import jit


@jit
def band_snr_energy(x, c0, n, k0, hop, win, blk, sos, z, ring, bst, floors, q, step, out):
    """The VAD's energy (dB, floored at -120) of frames ``k0 .. k0+n-1``.

    Frame ``k`` spans stream samples ``[k*hop + hop//2 - win//2, + win)`` (as
    :func:`prosync.native.frames.frame_energy_db`); stream sample ``s`` is ``x[c0 + s - (k0*hop
    + hop//2)]``. Each of the B bands (``sos``: float64[B, S, 6], second-order sections in
    scipy's layout, S = 2) filters the stream once, in order, from rest at the first frame's first
    sample (``z``: float64[B, S, 2], the filters' state), in blocks of ``blk`` samples (``blk``
    divides ``win`` and the frames' starts); ``ring`` (float64[B, >= win/blk]) holds the last
    blocks' sums of squares and ``bst`` (int64[1], 0 when fresh) the next block to filter, so
    the result does not depend on how frames are batched.

    With one band the frame gets that band's energy ``E_0``. With several, each band's energy
    ``E_b`` is set against its own floor ``N_b``: ``10 log10(sum_b 10^(N_b/10)) + max_b (E_b -
    N_b)``, the floors' total plus the best band's rise over its floor (noise alone reads about
    the total, as the broadband energy would; speech as far over it as it stands out in its best
    band). ``N_b`` tracks the ``q`` quantile of band ``b``'s frame energies (every frame: free of
    the speech decision), up ``q * step`` dB when under the energy, down ``(1 - q) * step`` when
    not; ``floors`` (float64[B + 1]) carries them, its last entry 0 while fresh (the first frame
    sets them).
    """
    nb = sos.shape[0]
    nw = win // blk
    rl = ring.shape[1]
    origin = k0 * hop + hop // 2  # stream index of x[c0]
    for i in range(n):
        k = k0 + i
        j0 = (k * hop + hop // 2 - win // 2 + win) // blk  # first block (stream + win: >= 0)
        if bst[0] == 0:
            bst[0] = j0
        while bst[0] < j0 + nw:  # filter the blocks this frame reaches
            j = bst[0]
            a = c0 + j * blk - win - origin
            for b in range(nb):
                # two sections (the caller pads one with a pass-through), transposed direct form
                # II as scipy.signal.sosfilt; coefficients and state in locals for the block
                p0, p1, p2, p4, p5 = sos[b, 0, 0], sos[b, 0, 1], sos[b, 0, 2], sos[b, 0, 4], \
                    sos[b, 0, 5]
                r0, r1, r2, r4, r5 = sos[b, 1, 0], sos[b, 1, 1], sos[b, 1, 2], sos[b, 1, 4], \
                    sos[b, 1, 5]
                u0, u1, w0, w1 = z[b, 0, 0], z[b, 0, 1], z[b, 1, 0], z[b, 1, 1]
                acc = 0.0
                for t in range(a, a + blk):
                    v = float(x[t])
                    y = p0 * v + u0
                    u0 = p1 * v - p4 * y + u1
                    u1 = p2 * v - p5 * y
                    v = y
                    y = r0 * v + w0
                    w0 = r1 * v - r4 * y + w1
                    w1 = r2 * v - r5 * y
                    acc += y * y
                z[b, 0, 0], z[b, 0, 1], z[b, 1, 0], z[b, 1, 1] = u0, u1, w0, w1
                ring[b, j % rl] = acc
            bst[0] = j + 1
        if nb == 1:
            acc = 0.0
            for j in range(j0, j0 + nw):
                acc += ring[0, j % rl]
            ms = acc / win
            out[i] = 10.0 * np.log10(ms) if ms > 1e-12 else -120.0
            continue
        fresh = floors[nb] == 0.0
        total = 0.0
        best = -np.inf
        for b in range(nb):
            acc = 0.0
            for j in range(j0, j0 + nw):
                acc += ring[b, j % rl]
            ms = acc / win
            e = 10.0 * np.log10(ms) if ms > 1e-12 else -120.0
            if fresh:
                floors[b] = e
            f = floors[b]
            total += 10.0 ** (f / 10.0)
            if e - f > best:
                best = e - f
            floors[b] = f + step * q if e > f else f - step * (1.0 - q)
        floors[nb] = 1.0
        out[i] = 10.0 * np.log10(total) + best

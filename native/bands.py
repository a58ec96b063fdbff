"""The energy the VAD decides on: the frame's energy in one band, or the best of several bands'
energies over their own noise floors (a noise whose power lies in other bands does not mask the
speech in the band where it stands out).

Each band's two second-order sections run as one 5-tap numerator (over a whole run of blocks,
ahead of the recursions) and two all-pole recursions (direct form), two bands in one pass: a
third of the time of two transposed sections per band one after the other, the same energies to
1e-11 dB.
"""

import numpy as np

from ._jit import jit, jit_fma

#: Samples of history the buffer keeps before its blocks (the numerators read 4).
HIST = 4


def band_state(bands: int, chunk: int, blk: int, win: int):
    """Fresh state for :func:`band_snr_energy` with ``bands`` filters filtering up to ``chunk``
    blocks of ``blk`` samples at a time, frames ``win`` samples long: ``(z, buf, ring, bst,
    floors)``, each array sized as the kernel needs it."""
    return (np.zeros((bands, 4)), np.zeros((3, HIST + chunk * blk)),
            np.zeros((bands, chunk + win // blk)), np.zeros(1, np.int64), np.zeros(bands + 1))


@jit_fma
def numerator(v, t_end, sos, b, f):
    """``f[t] = sum_k n_k v[HIST + t - k]`` for ``t < t_end``: band ``b``'s two section
    numerators multiplied into one 5-tap FIR (``n``), over ``v`` after its ``HIST`` samples of
    history."""
    p0, p1, p2 = sos[b, 0, 0], sos[b, 0, 1], sos[b, 0, 2]
    q0, q1, q2 = sos[b, 1, 0], sos[b, 1, 1], sos[b, 1, 2]
    n0, n1, n2 = p0 * q0, p0 * q1 + p1 * q0, p0 * q2 + p1 * q1 + p2 * q0
    n3, n4 = p1 * q2 + p2 * q1, p2 * q2
    for t in range(t_end):
        u = HIST + t
        f[t] = n0 * v[u] + n1 * v[u - 1] + n2 * v[u - 2] + n3 * v[u - 3] + n4 * v[u - 4]


@jit_fma
def poles_one(f, nblk, blk, sos, b, z, ring, j):
    """Band ``b``'s poles over its numerator's output ``f`` (``nblk`` blocks of ``blk``) from
    its state ``z[b]`` (each recursion's last two outputs): ``s = f - a1 s[-1] - a2 s[-2]``,
    ``y`` alike from ``s`` (skipped when the second section is a pass-through); each block's
    sum of ``y**2`` into ``ring[b, (j + i) % len]``, block ``i``."""
    a11, a12, a21, a22 = sos[b, 0, 4], sos[b, 0, 5], sos[b, 1, 4], sos[b, 1, 5]
    s1, s2, y1, y2 = z[b, 0], z[b, 1], z[b, 2], z[b, 3]
    rl = ring.shape[1]
    one = a21 == 0.0 and a22 == 0.0
    for i in range(nblk):
        acc = 0.0
        if one:
            for t in range(i * blk, i * blk + blk):
                s = (f[t] - a12 * s2) - a11 * s1
                s2 = s1
                s1 = s
                acc += s * s
        else:
            for t in range(i * blk, i * blk + blk):
                s = (f[t] - a12 * s2) - a11 * s1
                s2 = s1
                s1 = s
                y = (s - a22 * y2) - a21 * y1
                y2 = y1
                y1 = y
                acc += y * y
        ring[b, (j + i) % rl] = acc
    if one:
        y1, y2 = s1, s2
    z[b, 0], z[b, 1], z[b, 2], z[b, 3] = s1, s2, y1, y2


@jit_fma
def poles_two(f, g, nblk, blk, sos, b, e, z, ring, j):
    """:func:`poles_one` for bands ``b`` (numerator output ``f``) and ``e`` (``g``) in one pass:
    the two bands' recursions are independent, so the processor runs them side by side (a pass-
    through second section runs, exactly: ``y = s``)."""
    a11, a12, a21, a22 = sos[b, 0, 4], sos[b, 0, 5], sos[b, 1, 4], sos[b, 1, 5]
    c11, c12, c21, c22 = sos[e, 0, 4], sos[e, 0, 5], sos[e, 1, 4], sos[e, 1, 5]
    s1, s2, y1, y2 = z[b, 0], z[b, 1], z[b, 2], z[b, 3]
    r1, r2, w1, w2 = z[e, 0], z[e, 1], z[e, 2], z[e, 3]
    rl = ring.shape[1]
    for i in range(nblk):
        acc = 0.0
        acd = 0.0
        for t in range(i * blk, i * blk + blk):
            s = (f[t] - a12 * s2) - a11 * s1
            r = (g[t] - c12 * r2) - c11 * r1
            s2 = s1
            s1 = s
            r2 = r1
            r1 = r
            y = (s - a22 * y2) - a21 * y1
            w = (r - c22 * w2) - c21 * w1
            y2 = y1
            y1 = y
            w2 = w1
            w1 = w
            acc += y * y
            acd += w * w
        ring[b, (j + i) % rl] = acc
        ring[e, (j + i) % rl] = acd
    z[b, 0], z[b, 1], z[b, 2], z[b, 3] = s1, s2, y1, y2
    z[e, 0], z[e, 1], z[e, 2], z[e, 3] = r1, r2, w1, w2


@jit
def filter_blocks(x, a, nblk, blk, sos, z, buf, ring, j):
    """Blocks ``j .. j+nblk-1`` (``x[a : a + nblk*blk]``) through every band: the samples into
    ``buf[0]`` after its history, each band's block sums into ``ring`` (``buf[1]``, ``buf[2]``:
    the numerators' outputs), then the last ``HIST`` samples to the front for the next blocks."""
    v = buf[0]
    m = nblk * blk
    for t in range(m):
        v[HIST + t] = x[a + t]
    nb = sos.shape[0]
    for b in range(0, nb - 1, 2):
        numerator(v, m, sos, b, buf[1])
        numerator(v, m, sos, b + 1, buf[2])
        poles_two(buf[1], buf[2], nblk, blk, sos, b, b + 1, z, ring, j)
    if nb % 2 == 1:
        numerator(v, m, sos, nb - 1, buf[1])
        poles_one(buf[1], nblk, blk, sos, nb - 1, z, ring, j)
    for t in range(HIST):
        v[t] = v[m + t]


@jit
def band_snr_energy(x, c0, n, k0, hop, win, blk, sos, z, buf, ring, bst, floors, q, step, out):
    """The VAD's energy (dB, floored at -120) of frames ``k0 .. k0+n-1``.

    Frame ``k`` spans stream samples ``[k*hop + hop//2 - win//2, + win)`` (as
    :func:`prosync.native.frames.frame_energy_db`); stream sample ``s`` is ``x[c0 + s - (k0*hop
    + hop//2)]``. Each of the B bands (``sos``: float64[B, 2, 6], second-order sections in
    scipy's layout, a pass-through second one for a single section) filters the stream once, in
    order, from rest at the first frame's first sample, in blocks of ``blk`` samples (``blk``
    divides ``win`` and the frames' starts), up to ``C = (buf.shape[1] - HIST) // blk`` blocks
    at a time: ``z`` (float64[B, 4]) holds the filters' state, ``buf`` (float64[3, HIST +
    C*blk]) the samples after their last ``HIST``, ``ring`` (float64[B, >= C + win/blk]) the
    last blocks' sums of squares and ``bst`` (int64[1], 0 when fresh) the next block to filter,
    so the result does not depend on how frames are batched, nor on ``C``
    (:func:`band_state` makes all five).

    With one band the frame gets that band's energy ``E_0``. With several, each band's energy
    ``E_b`` is set against its own floor ``N_b``: ``10 log10(sum_b 10^(N_b/10)) + max_b (E_b -
    N_b)``, the floors' total plus the best band's rise over its floor (noise alone reads about
    the total, as the broadband energy would; speech as far over it as it stands out in its best
    band). ``N_b`` tracks the ``q`` quantile of band ``b``'s frame energies (every frame: free of
    the speech decision), up ``q * step`` dB when under the energy, down ``(1 - q) * step`` when
    not; ``floors`` (float64[B + 1]) carries them as powers (``10^(N_b/10)``, each step a
    product: one logarithm per frame), its last entry 0 while fresh (the first frame sets them).
    """
    nb = sos.shape[0]
    nw = win // blk
    rl = ring.shape[1]
    cap = (buf.shape[1] - HIST) // blk
    if cap < 1 or rl < cap + nw or z.shape[0] < nb or floors.shape[0] <= nb:
        raise ValueError("band_snr_energy: state too small for these bands (use band_state)")
    up = 10.0 ** (step * q / 10.0)
    down = 10.0 ** (-step * (1.0 - q) / 10.0)
    origin = k0 * hop + hop // 2  # stream index of x[c0]
    last = ((k0 + n - 1) * hop + hop // 2 - win // 2 + win) // blk + nw  # blocks this call needs
    for i in range(n):
        k = k0 + i
        j0 = (k * hop + hop // 2 - win // 2 + win) // blk  # first block (stream + win: >= 0)
        if bst[0] == 0:
            bst[0] = j0
        while bst[0] < j0 + nw:  # filter the blocks this frame reaches, and on (at most cap)
            j = bst[0]
            m = min(cap, last - j)
            filter_blocks(x, c0 + j * blk - win - origin, m, blk, sos, z, buf, ring, j)
            bst[0] = j + m
        if nb == 1:
            acc = 0.0
            for j in range(j0, j0 + nw):
                acc += ring[0, j % rl]
            ms = acc / win
            out[i] = 10.0 * np.log10(ms) if ms > 1e-12 else -120.0
            continue
        fresh = floors[nb] == 0.0
        total = 0.0
        best = 0.0
        for b in range(nb):
            acc = 0.0
            for j in range(j0, j0 + nw):
                acc += ring[b, j % rl]
            ms = max(acc / win, 1e-12)  # the power of E_b (-120 dB at least)
            if fresh:
                floors[b] = ms
            f = floors[b]
            total += f
            best = max(best, ms / f)
            floors[b] = f * up if ms > f else f * down
        floors[nb] = 1.0
        out[i] = 10.0 * np.log10(total * best)

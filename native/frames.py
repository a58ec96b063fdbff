"""Framing kernels: DC removal, mains hum, buffer shifting, per-frame energy, float to PCM16."""

import numpy as np

from ._jit import jit


@jit
def shift_left(x, start, count):
    """Move ``x[start:start+count]`` to ``x[0:count]`` in place (forward copy, no temporary)."""
    for i in range(count):
        x[i] = x[start + i]


@jit
def dc_block(x, start, count, r, state):
    """Remove the DC offset of ``x[start:start+count]`` in place, continuing across calls.

    ``y[i] = x[i] - x[i-1] + r * y[i-1]``: a zero at DC and a pole at ``r`` just inside the
    unit circle (a first-order high-pass). ``state``: float64[3], all zeros when fresh:
    the last input, the last output, 1 once a sample was seen. The first sample's previous
    input is itself, so a stream that starts on an offset starts without a step.
    """
    if count <= 0:
        return
    px = state[0]
    py = state[1]
    if state[2] == 0.0:
        px = float(x[start])
        state[2] = 1.0
    for i in range(count):
        v = float(x[start + i])
        y = v - px + r * py
        px = v
        py = y
        x[start + i] = y
    state[0] = px
    state[1] = py


@jit
def hum_cancel(x, start, count, er, ei, rot, mu, block, quiet, rise, state, gstate, scr):
    """Subtract steady tones from ``x[start:start+count]`` in place, learning each tone's
    amplitude and phase only in the quiet blocks (continuing across calls).

    Tone ``k`` at angular frequency ``w_k`` (rad/sample) is ``Re(A_k c_k[n])`` with ``c_k[n] =
    exp(j w_k n)``; the residual ``e`` is the input less every tone. ``A_k`` follows the residual
    by block least mean squares (step ``mu``: a time constant of ``2 / mu`` samples): at the end
    of each block of ``block`` samples (counted from the stream's start) ``A_k += mu sum(e
    conj(c_k))`` over the block, but only when the block was quiet: its residual energy within
    the factor ``quiet`` of the residual's floor, which follows a lower block at once and rises
    by the factor ``rise`` per block. Digital silence (a block's mean square under 1e-10, -100
    dBFS, the 16-bit quantisation floor) is no evidence: it moves neither the floor nor the
    tones (a floor pulled down to exact zeros took 27 s to rise back to a -40 dBFS hum that
    followed 5 s of them).
    The output is the input less the tones that are *on*: a tone is on from the end of a block
    where its energy over a block (``|A_k|^2 / 2 block``) exceeds the residual's floor (a tone
    louder than everything else in the quiet blocks); otherwise the input passes unchanged
    (noise learnt in a narrow band is never subtracted).
    A mains hum is there in every silence, so it is learnt there and taken out everywhere;
    speech never moves the estimate (a narrow notch always on rang after every word as a pure
    tone that the pitch tracker took for voice).
    ``er``, ``ei``: float64[K, block], ``cos`` and ``sin`` of ``w_k j`` for ``j`` in a block;
    ``rot``: float64[K, 2], ``cos`` and ``sin`` of ``w_k block``. Within a block ``c_k`` is the
    block's first phasor times the table, so every inner loop is a product of arrays without a
    recurrence (vectorised). ``state``: float64[K, 7] (``c_k`` at the block's start, ``A_k`` and
    the block's sum, each real and imaginary; 1 while on); ``gstate``: float64[3] (the block's
    residual energy, the floor, samples into the block); all zeros when fresh. ``scr``:
    float64[2, >= block].
    """
    k_n = er.shape[0]
    for k in range(k_n):
        if state[k, 0] == 0.0 and state[k, 1] == 0.0:
            state[k, 0] = 1.0
    i = 0
    while i < count:
        p = int(gstate[2])
        seg = min(count - i, block - p)
        s0 = start + i
        tsum = scr[0, :seg]
        osum = scr[1, :seg]
        tsum[:] = 0.0
        osum[:] = 0.0
        for k in range(k_n):  # the tones over the stretch: Re(A_k c_k)
            cr = state[k, 0]
            ci = state[k, 1]
            br = state[k, 2] * cr - state[k, 3] * ci
            bi = state[k, 2] * ci + state[k, 3] * cr
            on = state[k, 6]
            tr = er[k, p:p + seg]
            ti = ei[k, p:p + seg]
            for j in range(seg):
                h = br * tr[j] - bi * ti[j]
                tsum[j] += h
                osum[j] += on * h
        e = 0.0
        for j in range(seg):  # the residual, and the output less the tones on
            v = float(x[s0 + j])
            r = v - tsum[j]
            tsum[j] = r
            e += r * r
            x[s0 + j] = v - osum[j]
        gstate[0] += e
        for k in range(k_n):  # each tone's correlation with the residual: sum e conj(c_k)
            tr = er[k, p:p + seg]
            ti = ei[k, p:p + seg]
            sr = 0.0
            si = 0.0
            for j in range(seg):
                sr += tsum[j] * tr[j]
                si += tsum[j] * ti[j]
            cr = state[k, 0]
            ci = state[k, 1]
            state[k, 4] += cr * sr - ci * si
            state[k, 5] -= cr * si + ci * sr
        gstate[2] += seg
        i += seg
        if gstate[2] >= block:
            e = gstate[0]
            evidence = e >= 1e-10 * block
            if evidence:
                f = e if gstate[1] == 0.0 else min(e, gstate[1] * rise)
                gstate[1] = max(f, 1e-30)
            learn = evidence and e <= quiet * gstate[1]
            for k in range(k_n):
                if learn:
                    state[k, 2] += mu * state[k, 4]
                    state[k, 3] += mu * state[k, 5]
                state[k, 4] = 0.0
                state[k, 5] = 0.0
                a2 = state[k, 2] * state[k, 2] + state[k, 3] * state[k, 3]
                state[k, 6] = 1.0 if gstate[1] > 0.0 and 0.5 * a2 * block > gstate[1] else 0.0
                # the next block's first phasor, kept at |c_k| = 1
                cr = state[k, 0] * rot[k, 0] - state[k, 1] * rot[k, 1]
                ci = state[k, 0] * rot[k, 1] + state[k, 1] * rot[k, 0]
                m = np.sqrt(cr * cr + ci * ci)
                state[k, 0] = cr / m
                state[k, 1] = ci / m
            gstate[0] = 0.0
            gstate[2] = 0.0


@jit
def frame_energy_db(x, c0, n, hop, win, out):
    """Energy of ``n`` frames in dBFS.

    Frame ``i`` is centred on ``x[c0 + i*hop]`` and spans ``win`` samples
    (``x[c - win//2 : c - win//2 + win]``). The level is ``10 log10(mean(x**2))`` relative to a
    full-scale square wave (so a full-scale sine reads -3.01 dBFS), floored at -120 dB.
    """
    half = win // 2
    for i in range(n):
        s = c0 + i * hop - half
        seg = x[s:s + win]  # a view: lets LLVM vectorise the sum
        acc = 0.0
        for j in range(win):
            v = seg[j]
            acc += v * v
        ms = acc / win
        out[i] = 10.0 * np.log10(ms) if ms > 1e-12 else -120.0


@jit
def to_pcm16(x, start, count, out):
    """Convert ``x[start:start+count]`` (float, full scale 1.0) to int16 in ``out[:count]``, clipping."""
    for i in range(count):
        v = x[start + i] * 32768.0
        if v > 32767.0:
            v = 32767.0
        elif v < -32768.0:
            v = -32768.0
        elif not (v == v):
            v = 0.0
        out[i] = np.int16(v)


@jit
def all_finite(x):
    """True when no sample of ``x`` is NaN or infinite."""
    for i in range(x.shape[0]):
        if not np.isfinite(x[i]):
            return False
    return True

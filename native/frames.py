"""Framing kernels: DC removal, buffer shifting, per-frame energy, float to PCM16."""

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

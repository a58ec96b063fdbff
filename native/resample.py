"""Polyphase FIR resampling by ``L / M``: a filter bank of ``L`` phases, one dot product per output.

Output ``m`` sits at input position ``m * M / L``. With ``t = m * M``, ``q = t // L`` and
``r = t % L``, it is ``bank[r] . x[q - K : q + K + 1]`` (the bank's rows are the prototype's
phases, reversed, times ``L``), so it is known once input ``q + K`` has arrived: ``K`` input
samples of look-ahead. The caller keeps the input in ``buf`` (``state``: how many samples it
holds, the stream index of ``buf[0]``, the next output, the inputs received); the kernel appends
a chunk, writes every output it completes into ``out`` and drops the input no later output reads.
"""

import numpy as np

from ._jit import jit, jit_dot

#: Indices of the int64 state vector of :func:`polyphase`.
S_FILL, S_BASE, S_NEXT, S_FED = 0, 1, 2, 3
N_STATE = 4


@jit_dot
def dot(a, b):
    """``a . b`` over ``a``'s length (float64). Both are 1-d slices: indexing ``b[start + s]``
    instead kept LLVM from loading ``b`` as vectors (4x slower)."""
    acc = 0.0
    for s in range(a.shape[0]):
        acc += a[s] * b[s]
    return acc


@jit
def polyphase(x, n_x, buf, state, bank, up, down, half, m_cap, out):
    """Append ``x[:n_x]`` to ``buf``, write the completed outputs (at most up to output index
    ``m_cap``, exclusive; -1: no cap) into ``out`` and return how many. ``buf`` must hold the
    current fill plus ``n_x`` samples; ``out`` every output the chunk completes."""
    fill = state[S_FILL]
    for i in range(n_x):
        buf[fill + i] = x[i]
    fill += n_x
    fed = state[S_FED] + n_x
    base = state[S_BASE]
    m = state[S_NEXT]
    avail = fed - half  # output m is complete once floor(m * down / up) < avail
    m_end = 0
    if avail > 0:
        m_end = (avail * up + down - 1) // down
    if m_cap >= 0 and m_end > m_cap:
        m_end = m_cap
    width = bank.shape[1]
    n_out = 0
    while m < m_end:
        t = m * down
        q = t // up
        start = q - half - base
        out[n_out] = dot(bank[t - q * up], buf[start:start + width])
        n_out += 1
        m += 1
    # the next output reads from input floor(m * down / up) - half on: drop what lies before
    keep_from = (m * down) // up - half - base
    if keep_from > fill:
        keep_from = fill
    if keep_from > 0:
        for i in range(fill - keep_from):
            buf[i] = buf[keep_from + i]
        fill -= keep_from
        base += keep_from
    state[S_FILL] = fill
    state[S_BASE] = base
    state[S_NEXT] = m
    state[S_FED] = fed
    return n_out


def new_state(half: int) -> np.ndarray:
    """A fresh state: ``half`` zeros before input 0 (the buffer's first ``half`` samples must be
    zero)."""
    st = np.zeros(N_STATE, np.int64)
    st[S_FILL] = half
    st[S_BASE] = -half
    return st

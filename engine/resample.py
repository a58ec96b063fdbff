"""The speaker's resampler to the engine's 16 kHz: a short polyphase FIR, or soxr.

soxr works on blocks of its own: from 44.1 kHz (HQ) a pushed sample waited up to 40 ms for the
resampler, 84 ms from 11.025 kHz, 116 ms from 8 kHz, on top of the kernels' 49.4 ms look-ahead.
For a live microphone that is most of the latency, so every rate whose ratio ``L / M`` to
16 kHz (reduced) has at most :data:`MAX_UP` phases goes through :class:`Polyphase`: a
windowed-sinc filter (Kaiser, beta :data:`KAISER_BETA`) spanning :data:`SPAN_S` of input, half
of it ahead, so it holds back 4 ms. Its cutoff is the lower Nyquist frequency less
:data:`HALF_TRANSITION_HZ` (7.6 kHz into 16 kHz): flat to about 7.2 kHz, and nothing at or above
8 kHz folds back louder than -95 dB. 8 kHz -> 16 kHz is an exact doubling, where the same span
gives a half-band filter (129 taps, cutoff 4 kHz: stop band 100 dB down from 4.4 kHz, pass band
flat to 3.6 kHz, past the 3.4 kHz telephone band) that keeps every input sample as it is and
interpolates the ones between. Rates with more phases (odd rates such as 44,056 Hz) keep soxr
(HQ). Every resampler gives the same output for any split of the input into blocks.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import soxr
from scipy import signal

from ..native import resample as kr
from .config import SAMPLE_RATE

#: Span of the polyphase filter, in seconds of input: half of it is look-ahead (4 ms).
SPAN_S = 0.008
#: Its cutoff lies this far below the lower of the two Nyquist frequencies: half the transition
#: band a Kaiser window of :data:`SPAN_S` and :data:`KAISER_BETA` gives (the stop band starts at
#: that Nyquist frequency).
HALF_TRANSITION_HZ = 400.0
#: Kaiser window parameter of the prototype: about 100 dB of stop band.
KAISER_BETA = 10.0
#: Most phases (``L`` of the reduced ratio ``L / M``) of the polyphase bank; above, soxr.
MAX_UP = 640

def ratio(in_rate: int) -> tuple[int, int]:
    """``(L, M)``: 16 kHz over ``in_rate``, reduced (44.1 kHz: 160 / 441, 48 kHz: 1 / 3)."""
    g = math.gcd(SAMPLE_RATE, in_rate)
    return SAMPLE_RATE // g, in_rate // g


def half_span(in_rate: int) -> int:
    """Input samples of look-ahead of the polyphase filter: half :data:`SPAN_S`, rounded down
    (so at most 4 ms)."""
    return int(SPAN_S / 2 * in_rate)


def prototype(in_rate: int) -> np.ndarray:
    """The windowed-sinc prototype at ``in_rate * L`` Hz: ``2 K L + 1`` taps (``K``:
    :func:`half_span`), unit gain at 0 Hz, cutoff :data:`HALF_TRANSITION_HZ` below the lower
    Nyquist frequency (at 8 kHz, a doubling: the half-band filter, cutoff 4 kHz)."""
    up, down = ratio(in_rate)
    k = half_span(in_rate)
    cutoff = min(in_rate, SAMPLE_RATE) / 2 - HALF_TRANSITION_HZ
    if (up, down) == (2, 1):  # 8 kHz: half-band, flat over the whole telephone band
        cutoff = in_rate / 2
    return signal.firwin(2 * k * up + 1, cutoff, window=("kaiser", KAISER_BETA), fs=in_rate * up)


@functools.cache
def fir_bank(in_rate: int) -> tuple[int, int, int, np.ndarray]:
    """``(L, M, K, bank)``: ``bank[r]`` is phase ``r`` of :func:`prototype` times ``L`` (the zero
    stuffing's gain), reversed, ``2 K + 1`` taps, so that output ``m`` (``t = m M``) is
    ``bank[t % L] . x[t // L - K : t // L + K + 1]``."""
    up, down = ratio(in_rate)
    if up > MAX_UP:
        raise ValueError(f"{in_rate} Hz -> {SAMPLE_RATE} Hz needs {up} phases (most {MAX_UP})")
    k = half_span(in_rate)
    h = np.concatenate([prototype(in_rate), np.zeros(up - 1)])  # 2 K + 1 taps for every phase
    bank = np.ascontiguousarray(up * h.reshape(2 * k + 1, up).T[:, ::-1])
    if (up, down) == (2, 1):
        # a half-band filter's even phase is a unit impulse (its other taps are sinc zeros,
        # 4e-17 here, and the window's normalisation moves the centre by 1.5e-6): the input
        # samples pass as they are
        bank[0] = 0.0
        bank[0, k] = 1.0
    bank.flags.writeable = False
    return up, down, k, bank


class Polyphase:
    """``in_rate`` -> 16 kHz with :func:`fir_bank`; the interface of ``soxr.ResampleStream``.

    Output ``m`` is the filter's value at input position ``m M / L``, known once the input
    :func:`half_span` samples past it has arrived. The first outputs are aligned as soxr aligns
    them (no delay), and ``last=True`` flushes the held samples: ``round(n L / M)`` outputs in
    all for ``n`` inputs (halves up, as soxr).
    """

    def __init__(self, in_rate: int):
        self._up, self._down, self._half, self._bank = fir_bank(int(in_rate))
        self._state = kr.new_state(self._half)
        self._buf = np.zeros(2 * self._bank.shape[1] + 4096)  # grows for longer chunks
        self._tail = np.zeros(self._half + 1, np.float32)     # zeros that flush the held input
        self._ended = False

    def resample_chunk(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        if self._ended:
            raise RuntimeError("resample_chunk after last=True")
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
        if x.size == 0 and not last:
            return x
        n_in = x.size + (self._tail.size if last else 0)
        fill = int(self._state[kr.S_FILL])
        if fill + n_in > self._buf.size:
            buf = np.zeros(max(fill + n_in, 2 * self._buf.size))
            buf[:fill] = self._buf[:fill]
            self._buf = buf
        # n inputs complete at most n L / M + 1 outputs (those of earlier inputs included)
        out = np.empty((n_in * self._up) // self._down + 2, np.float32)
        n = kr.polyphase(x, x.size, self._buf, self._state, self._bank, self._up, self._down,
                         self._half, -1, out)
        if last:
            self._ended = True
            fed = int(self._state[kr.S_FED])
            total = (2 * fed * self._up + self._down) // (2 * self._down)
            n += kr.polyphase(self._tail, self._tail.size, self._buf, self._state, self._bank,
                              self._up, self._down, self._half, total, out[n:])
        return out[:n]


def resampler(in_rate: int):
    """A streaming resampler from ``in_rate`` to 16 kHz (None at 16 kHz)."""
    if in_rate == SAMPLE_RATE:
        return None
    if ratio(in_rate)[0] <= MAX_UP:
        return Polyphase(in_rate)
    return soxr.ResampleStream(in_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")

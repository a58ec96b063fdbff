"""The speaker's resampler to the engine's 16 kHz: soxr, or a short half-band filter from 8 kHz.

soxr works on blocks of its own: from 8 kHz (HQ) it releases about 1,660 output samples at a time,
so a sample pushed waits up to 116 ms for the resampler. 8 kHz is the telephone rate, where an
agent's turn-taking latency matters most, and 8 -> 16 kHz is an exact doubling: a linear-phase
half-band FIR (Kaiser window, :data:`UP2_TAPS` taps, stop band 100 dB down from 4.4 kHz, pass band
flat to 3.6 kHz, past the 3.4 kHz telephone band) keeps every input sample as it is and
interpolates the ones between, holding back :data:`UP2_LOOKAHEAD` input samples (4 ms).
Both resamplers give the same output for any split of the input into blocks.
"""

from __future__ import annotations

import functools

import numpy as np
import soxr
from scipy import signal

from .config import SAMPLE_RATE

#: Taps of the 8 -> 16 kHz half-band filter (odd: its centre tap falls on an input sample).
UP2_TAPS = 129
#: Input samples the 8 kHz filter holds back: half its odd phase (64 taps).
UP2_LOOKAHEAD = (UP2_TAPS - 1) // 4


@functools.cache
def _up2_odd_phase() -> np.ndarray:
    """The half-band filter's taps between input samples, times 2 (the zero stuffing's gain)."""
    h = signal.firwin(UP2_TAPS, 0.5, window=("kaiser", 10.0))  # cutoff: half the Nyquist of 16 kHz
    return 2.0 * h[1::2]


class Upsample2:
    """8 kHz -> 16 kHz with :func:`_up2_odd_phase`; the interface of ``soxr.ResampleStream``.

    Output sample ``2m`` is input sample ``m``; output ``2m + 1`` is the filter's value halfway
    between input ``m`` and ``m + 1``, known once input ``m + UP2_LOOKAHEAD`` has arrived. The
    first outputs are aligned as soxr aligns them (no delay), and ``last=True`` flushes the held
    samples: ``2 n`` outputs in all for ``n`` inputs.
    """

    def __init__(self):
        self._h = _up2_odd_phase()
        self._zi = np.zeros(self._h.size - 1)        # the odd phase's FIR state
        self._held = np.zeros(UP2_LOOKAHEAD, np.float32)  # inputs whose odd neighbour is pending
        self._skip = UP2_LOOKAHEAD                    # odd outputs before input 0: dropped

    def resample_chunk(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.size == 0 and not last:
            return x
        if last:
            x = np.concatenate([x, np.zeros(UP2_LOOKAHEAD, np.float32)])
        odd, self._zi = signal.lfilter(self._h, 1.0, x, zi=self._zi)
        even = np.concatenate([self._held, x])[:x.size]
        self._held = np.concatenate([self._held, x])[x.size:]
        drop = min(self._skip, x.size)
        self._skip -= drop
        out = np.empty(2 * (x.size - drop), np.float32)
        out[0::2] = even[drop:]
        out[1::2] = odd[drop:]
        return out


def resampler(in_rate: int):
    """A streaming resampler from ``in_rate`` to 16 kHz (None at 16 kHz)."""
    if in_rate == SAMPLE_RATE:
        return None
    if in_rate * 2 == SAMPLE_RATE:
        return Upsample2()
    return soxr.ResampleStream(in_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")

"""One speaker's stream: resampling, framing at a 10 ms hop, and the per-frame kernels.

Samples are appended to a linear buffer; every complete hop is analysed in place (views, no
per-hop allocation) and the buffer is shifted left when it fills. Frame ``k`` is centred on
sample ``k*HOP + HOP//2`` of the 16 kHz stream, so ``t_s = (k + 0.5) / 100``. The stream starts
with ``LOOKBEHIND`` zero samples of padding, and :meth:`flush` pads with zeros to finish the frames
whose hop contains audio.
"""

from __future__ import annotations

import ctypes
import functools
import math

import numpy as np
import webrtcvad

from ..native import vad as kv
from ..native.bands import band_state
from ..native.frames import dc_block, hum_cancel, shift_left
from ..native.hop import speaker_frames
from .config import HOP, HOP_S, SAMPLE_RATE, Config
from .errors import ProsyncError
from .pitch import PitchTracker
from .rate import RateTracker
from .resample import resampler
from .schema import record_dtype

#: Window of the energy (and intensity) measurement: 25 ms.
ENERGY_WIN = 400
#: Periodicity above which a frame counts as voiced for syllable nuclei (see ``_compute``).
RATE_PERIODICITY = 0.8
#: The VAD's band filters sum their squares over blocks this long (divides the energy window
#: and the offset of its start from the hop's: 40 samples).
BAND_BLOCK = math.gcd(HOP, ENERGY_WIN, abs(HOP // 2 - ENERGY_WIN // 2))
#: ... and run up to this many blocks in one pass (80 ms: a whole-file batch sets up each band
#: once per pass, not once per block).
BAND_CHUNK = 32
#: With several VAD bands, each band's floor is this quantile of its frames' energies (speech
#: frames too: no decision is needed first), tracked in steps of this many dB per frame (it
#: rises at most 1 dB per second of unbroken speech and falls 9 dB per second).
BAND_FLOOR_Q = 0.1
BAND_FLOOR_STEP_DB = 0.1
#: Cut-off of the DC blocker on the 16 kHz stream before every kernel (Hz; a first-order
#: high-pass, :func:`~prosync.native.frames.dc_block`): a recorder's DC offset otherwise reads as
#: energy in every silence (the VAD's floor) and as periodicity at every lag (the pitch
#: tracker's normalised autocorrelation; an offset of 0.05 raised VDE from 5 to 38 %, and it
#: correlates the two channels, which the cross-talk rule reads as one voice). Well under the
#: 60 Hz pitch floor: -0.1 dB at 60 Hz. Not tuned.
DC_CUTOFF_HZ = 10.0
#: The blocker's pole.
DC_POLE = math.exp(-2.0 * math.pi * DC_CUTOFF_HZ / SAMPLE_RATE)
#: Mains hum: tones at 50 and 60 Hz and their first harmonics, learnt in the quiet 10 ms blocks
#: (residual within ``MAINS_QUIET_DB`` of its floor, which rises ``MAINS_RISE_DB`` per second) with
#: a time constant of ``MAINS_TAU_S`` and subtracted from the 16 kHz stream after the DC blocker
#: (:func:`~prosync.native.frames.hum_cancel`), each tone only while it is louder than the
#: rest of the quiet blocks (ungated, learnt noise was subtracted too: at native level GPE +1.6
#: points under factory noise at 5 dB, ARCTIC). A hum is steady to a fraction of a hertz and
#: present in every silence; speech never moves the estimate (a 1 Hz notch always on rang
#: after every word as a decaying pure tone: native VDE 5.2 -> 12.8 %). Without it a 60 Hz hum
#: at -40 dBFS (the pitch tracker's F0 floor is 60 Hz) read as voice in every silence: VDE +41
#: points, turns precision 0.45 (``bench/results/invariance.md``). A hum is learnt within about
#: a second of silence; a mains frequency 0.05 Hz off drifts in phase through long speech (half
#: the gain). Two values tried, not tuned further: a 3 dB quiet margin stalled the learning on
#: the beats of a hum with harmonics (VDE +22 points, 6 dB: +9).
MAINS_HZ = (50.0, 60.0)
MAINS_HARMONICS = 3
MAINS_TAU_S = 0.3
MAINS_QUIET_DB = 6.0
MAINS_RISE_DB = 10.0
#: The tones' angular frequencies (rad/sample), the learning step, blocks, margin and rise.
MAINS_W = np.array(sorted({2.0 * math.pi * h * f / SAMPLE_RATE
                           for f in MAINS_HZ for h in range(1, MAINS_HARMONICS + 1)}))
MAINS_MU = 2.0 / (MAINS_TAU_S * SAMPLE_RATE)
MAINS_BLOCK = HOP
MAINS_QUIET = 10.0 ** (MAINS_QUIET_DB / 10.0)
MAINS_RISE = 10.0 ** (MAINS_RISE_DB * MAINS_BLOCK / SAMPLE_RATE / 10.0)
#: Each tone's phasor over a block (``cos``, ``sin`` of ``w j``) and its turn over a whole block.
MAINS_ER = np.cos(np.outer(MAINS_W, np.arange(MAINS_BLOCK)))
MAINS_EI = np.sin(np.outer(MAINS_W, np.arange(MAINS_BLOCK)))
MAINS_ROT = np.stack([np.cos(MAINS_W * MAINS_BLOCK), np.sin(MAINS_W * MAINS_BLOCK)], axis=1)
#: Frames analysed per kernel call at most (1 s): bounds the buffer and the output arrays.
MAX_FRAMES = 100

#: The VAD's speech level: this quantile of the voiced speech frames' energies (near the peaks:
#: voiced frames reach far down into the tails), tracked in steps of this many dB per voiced frame.
LEVEL_Q = 0.8
LEVEL_STEP_DB = 0.5

#: The record of one frame: the columns of ``frames.parquet`` (without ``speaker``; NaN where
#: the file has null) and the internal ``speech_raw``, ``webrtc``, ``speech_evidence`` and
#: ``onset_lead``, from the schema.
FRAME_DTYPE = record_dtype("frames")
#: Frames per second: ``t_s = (k + 0.5) / FRAMES_PER_S`` is the double nearest the exact time.
FRAMES_PER_S = round(1 / HOP_S)

_vad_loaded = False
#: The webrtcvad build whose C internals the kernels use (pyproject.toml's requirement).
WEBRTCVAD_PIN = "pip install 'webrtcvad-wheels>=2.0.11,<3'"


def vad_library() -> None:
    """Make webrtcvad's C functions callable from the numba kernels (:mod:`prosync.native.hop`
    calls ``WebRtcVad_Process`` by name): load its extension into LLVM's symbol table, once.
    Raises :class:`ProsyncError` when the extension lacks the function (a webrtcvad build that
    renamed it): a kernel calling an unresolved symbol would crash the process."""
    global _vad_loaded
    if not _vad_loaded:
        import _webrtcvad
        from llvmlite import binding

        from ..native import hop
        from ..native._jit import jit_disabled

        binding.load_library_permanently(_webrtcvad.__file__)
        if not binding.address_of_symbol(hop.WEBRTC_SYMBOL):
            raise ProsyncError(
                f"webrtcvad's extension {_webrtcvad.__file__} has no C function "
                f"{hop.WEBRTC_SYMBOL}: install the supported build ({WEBRTCVAD_PIN})")
        if jit_disabled():  # the kernels run as Python (coverage): the C function by ctypes
            fn = getattr(ctypes.CDLL(_webrtcvad.__file__), hop.WEBRTC_SYMBOL)
            fn.restype = ctypes.c_int
            fn.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
            hop.webrtc_process = fn
        _vad_loaded = True


#: ``PyCapsule_GetPointer`` with its own prototype (``ctypes.pythonapi``'s is shared).
_capsule_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi))


def vad_handle(vad: webrtcvad.Vad) -> int:
    """The ``VadInst*`` of a ``webrtcvad.Vad`` (valid while ``vad`` lives), as an integer."""
    try:
        return int(_capsule_pointer(vad._vad, b"WebRtcVadPtr"))
    except (AttributeError, ValueError) as e:  # a webrtcvad that keeps its handle otherwise
        raise ProsyncError(f"webrtcvad.Vad has no WebRtcVadPtr capsule in ._vad ({e}): install "
                           f"the supported build ({WEBRTCVAD_PIN})") from None


@functools.cache
def resampler_delay_s(in_rate: int) -> float:
    """The most input time, in seconds, the speaker's resampler (:func:`~.resample.resampler`,
    ``in_rate`` to 16 kHz) holds back: its filter's look-ahead and, for soxr, its chunking (4 ms
    at 8 kHz and at every rate of the polyphase filter, such as 44.1 and 48 kHz; soxr at an odd
    rate such as 44,056 Hz: 40 ms). Measured once per rate on 1 s of 1 ms blocks: it does not
    depend on the block sizes pushed (soxr: within 2 ms from 1 to 100 ms blocks)."""
    rs = resampler(in_rate)
    if rs is None:
        return 0.0
    block = np.zeros(max(1, in_rate // 1000), np.float32)
    fed = out = 0
    held = 0.0
    for _ in range(1000):
        out += rs.resample_chunk(block, last=False).size
        fed += block.size
        held = max(held, fed * SAMPLE_RATE / in_rate - out)
    return held / SAMPLE_RATE


def band_sos(lo_hz: float, hi_hz: float, count: int = 1) -> np.ndarray:
    """The VAD's band filters at 16 kHz (float64[B, 2, 6], second-order sections): ``lo_hz`` to
    ``hi_hz`` (0: no such edge, the top is the Nyquist frequency) cut into ``count`` bands of
    equal width in octaves, each a second-order Butterworth band-pass (high-pass for a band
    reaching the Nyquist frequency, low-pass for one from 0; a single section is padded with a
    pass-through one). ``B == 0`` (the broadband energy) for one band with no edge."""
    from scipy.signal import butter

    if count == 1 and lo_hz <= 0 and hi_hz <= 0:
        return np.zeros((0, 2, 6))
    top = hi_hz if hi_hz > 0 else SAMPLE_RATE / 2
    if count > 1:
        edges = np.geomspace(lo_hz, top, count + 1)
    else:
        edges = np.array([lo_hz, top])
    out = np.zeros((count, 2, 6))
    out[:, :, 0] = out[:, :, 3] = 1.0  # pass-through sections
    for b in range(count):
        lo, hi = float(edges[b]), float(edges[b + 1])
        has_hi = hi < SAMPLE_RATE / 2
        if lo > 0 and has_hi:
            sos = butter(2, [lo, hi], "bandpass", fs=SAMPLE_RATE, output="sos")
        elif lo > 0:
            sos = butter(2, lo, "highpass", fs=SAMPLE_RATE, output="sos")
        else:
            sos = butter(2, hi, "lowpass", fs=SAMPLE_RATE, output="sos")
        out[b, :sos.shape[0]] = sos
    return out


class SpeakerTrack:
    """Per-speaker framing and features. Not thread-safe: :class:`~prosync.Session` serialises."""

    def __init__(self, cfg: Config, sample_rate: int):
        self.cfg = cfg
        self.in_rate = int(sample_rate)
        self._resampler = resampler(self.in_rate)
        self.pitch = PitchTracker(cfg.pitch, MAX_FRAMES)
        self.rate = RateTracker(cfg.rate)
        self.lookbehind = max(self.pitch.LOOKBEHIND, ENERGY_WIN // 2, HOP // 2)
        self.lookahead = max(self.pitch.LOOKAHEAD, ENERGY_WIN // 2, HOP // 2)
        cap = self.lookbehind + self.lookahead + MAX_FRAMES * HOP + HOP
        self._x = np.zeros(cap, dtype=np.float32)
        self._n = self.lookbehind            # valid samples in _x (starts with zero padding)
        self._base = -self.lookbehind        # stream sample index of _x[0]
        self._samples_in = 0                 # 16 kHz samples received
        self.next_frame = 0
        self._dc = np.zeros(3)               # the DC blocker's state (dc_block)
        self._hum = np.zeros((MAINS_W.shape[0], 7))  # the hum canceller's state (hum_cancel)
        self._hum_g = np.zeros(3)
        self._hum_scr = np.zeros((2, MAINS_BLOCK))
        self._vad = webrtcvad.Vad(cfg.vad.webrtc_mode)
        self._pcm = np.zeros(MAX_FRAMES * HOP, dtype=np.int16)
        v = cfg.vad
        self._vad_prm = np.zeros(kv.N_VAD_PARAMS)
        self._vad_prm[kv.P_ON_DB] = v.floor_margin_db
        self._vad_prm[kv.P_OFF_DB] = v.off_margin_db
        self._vad_prm[kv.P_VOICED_DB] = v.voiced_margin_db
        self._vad_prm[kv.P_FLOOR_Q] = v.floor_quantile
        max_uv = max(1, int(round(v.max_unvoiced_s / HOP_S)))
        self._vad_prm[kv.P_MAX_UNVOICED] = max_uv
        self._vad_prm[kv.P_REL_DB] = v.unvoiced_rel_db
        self._vad_prm[kv.P_LEVEL_Q] = LEVEL_Q
        self._vad_prm[kv.P_LEVEL_STEP] = LEVEL_STEP_DB
        self._vad_prm[kv.P_PERIODIC] = v.periodic_min
        self._vad_prm[kv.P_PEAK_Q] = v.peak_quantile
        self._vad_prm[kv.P_PEAK_ON_DB] = v.peak_on_db
        self._vad_prm[kv.P_PEAK_OFF_DB] = v.peak_off_db
        self._vad_prm[kv.P_MASK_RANGE_DB] = v.masked_range_db
        self._vad_prm[kv.P_MASK_SLOPE_DB] = v.masked_slope_db_s * HOP_S
        self._vad_prm[kv.P_MASK_MAX] = round(v.masked_max_s / HOP_S)
        self._vad_prm[kv.P_MASK_MIN_RUN] = round(cfg.turns.min_ipu_s / HOP_S)
        self._vad_prm[kv.P_LEAD_MAX] = round(cfg.turns.onset_lookback_s / HOP_S)
        self._vad_prm[kv.P_LOUD_DB] = cfg.turns.breath_rel_db
        self._vad_prm[kv.P_TAIL_DB] = v.tail_margin_db
        self._vad_prm[kv.P_TAIL_REL_DB] = v.tail_rel_db
        self._vad_prm[kv.P_EVID_FRAC] = v.evidence_frac
        self._vad_prm[kv.P_EVID_FRAC_NEW] = v.evidence_frac_new
        self._vad_prm[kv.P_EVID_HOLD] = round(v.evidence_hold_s / HOP_S)
        self._vad_state = np.zeros(kv.N_VAD_STATE)
        self._vad_ring = np.zeros(max(1, int(round(v.floor_window_s / HOP_S))), dtype=np.int32)
        self._vad_hist = np.zeros(kv.HIST_BINS, dtype=np.int32)
        self._vad_pend = np.zeros(max_uv, dtype=np.int32)
        self._vad_prm[kv.P_BAND_Q] = BAND_FLOOR_Q
        self._vad_prm[kv.P_BAND_STEP] = BAND_FLOOR_STEP_DB
        self._vad_sos = band_sos(v.band_lo_hz, v.band_hi_hz, v.band_count)
        (self._vad_z, self._vad_buf, self._vad_bring, self._vad_bst,
         self._vad_floors) = band_state(self._vad_sos.shape[0], BAND_CHUNK, BAND_BLOCK, ENERGY_WIN)
        self._vad_energy = np.zeros(MAX_FRAMES)
        self._hang = int(round(cfg.vad.hangover_s / HOP_S))
        self._hang_state = np.zeros(1)
        self._soft = np.zeros(MAX_FRAMES, dtype=np.bool_)
        # one record per frame; the kernel fills its fields (strided views, no per-hop allocation)
        self.out = np.zeros(MAX_FRAMES, dtype=FRAME_DTYPE)
        self.ended = False
        self.hop_pcm = self._x[:0]
        vad_library()
        self._y_state = np.zeros(2, np.int64)  # the decimated signal the pitch kernels hold
        pt, rt = self.pitch, self.rate
        # every argument of the kernel after (x, c0, n, k0): fixed arrays, bound once
        self._args = (
            HOP, ENERGY_WIN, SAMPLE_RATE, np.float32(RATE_PERIODICITY), self._pcm,
            vad_handle(self._vad), *pt.kernel_state(), self._y_state,
            self._vad_prm, self._vad_state, self._vad_ring, self._vad_hist, self._vad_pend,
            BAND_BLOCK, self._vad_sos, self._vad_z, self._vad_buf, self._vad_bring, self._vad_bst,
            self._vad_floors, self._vad_energy, self._hang_state,
            self._hang, self._soft, *rt.kernel_state(), self.out)

    @property
    def lookahead_s(self) -> float:
        """Audio needed after a frame's centre before that frame is final: the kernels' look-ahead
        and, at another input rate than 16 kHz, what the resampler holds back."""
        return self.lookahead / SAMPLE_RATE + resampler_delay_s(self.in_rate)

    def feed(self, samples: np.ndarray, emit) -> None:
        """Append float32 samples at the input rate; call ``emit(k0, n, out)`` per analysed batch."""
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples, last=False)
        self._append(samples, emit)

    def flush(self, emit) -> None:
        """End of input: drain the resampler and pad with zeros to finish every started hop."""
        if self.ended:
            return
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            self._append(tail, emit)
        n_frames = -(-self._samples_in // HOP)
        need = n_frames * HOP - HOP // 2 + self.lookahead  # stream index reached by the last frame
        pad = need - self._samples_in
        if pad > 0:
            z = np.zeros(pad, dtype=np.float32)
            self._append(z, emit, count=False, last_frame=n_frames)
        self.ended = True

    def _append(self, samples, emit, count=True, last_frame=None):
        pos = 0
        total = samples.shape[0]
        cap = self._x.shape[0]
        while pos < total:
            m = min(total - pos, cap - self._n)
            self._x[self._n:self._n + m] = samples[pos:pos + m]
            if count:  # the audio, not the zeros that finish the last frames
                dc_block(self._x, self._n, m, DC_POLE, self._dc)
                hum_cancel(self._x, self._n, m, MAINS_ER, MAINS_EI, MAINS_ROT, MAINS_MU,
                           MAINS_BLOCK, MAINS_QUIET, MAINS_RISE, self._hum, self._hum_g,
                           self._hum_scr)
                self._samples_in += m
            self._n += m
            pos += m
            self._analyse(emit, last_frame)

    def _analyse(self, emit, last_frame):
        end = self._base + self._n  # stream index one past the newest sample
        # frame k is computable when its centre + lookahead <= end
        k_hi = (end - self.lookahead - HOP // 2) // HOP + 1
        if last_frame is not None:
            k_hi = min(k_hi, last_frame)
        while self.next_frame < k_hi:
            n = min(k_hi - self.next_frame, MAX_FRAMES)
            k0 = self.next_frame
            c0 = k0 * HOP + HOP // 2 - self._base
            self._compute(k0, c0, n)
            self.next_frame += n
            #: the hop samples of the frames being emitted (``n * HOP``, a view until the next call)
            self.hop_pcm = self._x[c0 - HOP // 2:c0 - HOP // 2 + n * HOP]
            emit(k0, n, self.out)
        # keep what the next frame needs
        keep_from = self.next_frame * HOP + HOP // 2 - self.lookbehind - self._base
        if keep_from > 0 and self._n == self._x.shape[0]:
            shift_left(self._x, keep_from, self._n - keep_from)
            self._n -= keep_from
            self._base += keep_from

    def _compute(self, k0, c0, n):
        """Every per-frame kernel on frames ``k0 .. k0+n-1`` (centre of the first: ``x[c0]``), in
        one numba call (:func:`prosync.native.hop.speaker_frames`): frame time, 25 ms energy,
        webrtcvad on each 10 ms hop, pitch, the hysteresis VAD (``speech_raw``, which turn timing
        uses: IPU ends are not delayed by the hangover) and its hangover (``speech``), then the
        syllable nuclei and rate, which accept a frame as voiced when the pitch tracker says so
        or it is strongly periodic (the fixed-lag voicing decision drops some short syllables)."""
        if speaker_frames(self._x, c0, n, k0, *self._args):  # webrtcvad returned -1: a bug here
            raise RuntimeError(f"webrtcvad rejected frames {k0}..{k0 + n - 1} "
                               f"({SAMPLE_RATE} Hz, {HOP}-sample hops)")

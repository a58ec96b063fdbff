"""Causal pitch tracker: YIN candidates at 8 kHz, fixed-lag Viterbi, voicing from a small
logistic model on per-frame evidence normalised against the speaker's level and the noise floor.

Per 10 ms frame (all kernels in :mod:`prosync.native.pitch`):

1. the 16 kHz signal is low-passed (31-tap windowed sinc, 3.6 kHz) and decimated to 8 kHz,
   once per call for all the frames of the call, on a grid anchored to the frame centres so the
   result does not depend on how frames are split into calls;
2. the YIN difference function and CMNDF (de Cheveigné & Kawahara 2002) over a 20 ms window give
   the ``K`` deepest dips with parabolic interpolation; each dip also gets a normalised
   autocorrelation over a short (10 ms or one period) window centred on the frame, which keeps
   voicing onsets and offsets sharp; the same band also gives the zero-crossing rate, ``r1/r0``
   and the linear-prediction error (Atal & Rabiner 1976's voiced/unvoiced measures);
3. the voicing evidence (:data:`prosync.native.pitch.EVIDENCE`: CMNDF, NAC, energy against the
   tracked speaker level and noise floor, spectral shape, the level over the floor) goes through
   a logistic model (``VOICING_WEIGHTS``, trained across speakers and noise conditions by
   ``bench/train_voicing.py``, leave one dataset out) whose log-odds become the voiced and
   unvoiced costs of a Viterbi search over the candidates plus an unvoiced state (octave cost,
   jump cost, voicing transition cost), which decides each frame ``lag`` frames late (fixed-lag
   smoothing inside the 50 ms look-ahead budget: 3 frames with the default 60 Hz floor);
4. the chosen period is refined on the 16 kHz signal (YIN difference function at the four
   integer lags around it, parabolic interpolation).

``octave``, ``jump``, ``level_q``, ``level_step_db`` and ``nac_weight`` were fitted on FDA and
PTDB-TUG (``bench/bench_pitch.py``); ``octave`` was re-checked held out (grid 0 / 0.033 / 0.1,
every fold kept 0.033). ``ap_weight``, ``noise_bias`` and ``vuv`` are chosen with the voicing
model, held out (``bench/train_voicing.py``). Figures: ``bench/bench_pitch_robust.py``.
"""

from __future__ import annotations

import numpy as np

from ..native import pitch as kp
from .config import HOP, SAMPLE_RATE, PitchConfig

#: Rate of the candidate search (Hz): the input decimated by 2.
RATE2 = SAMPLE_RATE // 2
#: Low-pass used before decimation: taps, cutoff (Hz).
FIR_TAPS = 31
FIR_CUTOFF_HZ = 3600.0
#: Difference-function window at ``RATE2`` (160 = 20 ms).
WIN2 = 160
#: Window of the full-rate refinement of the chosen period (20 ms).
WIN_REFINE = 320
#: Band-energy window at ``RATE2`` (200 = 25 ms) and short NAC window (80 = 10 ms).
EWIN2 = 200
SWIN2 = 80
#: Candidates kept per frame.
N_CAND = 5
#: Fixed lag of the Viterbi decision in frames (at most; less if the window needs the budget).
MAX_LAG = 3
#: Budget of audio after a frame's centre (samples at 16 kHz): 50 ms.
MAX_LOOKAHEAD = 800

#: Tracker parameters (see :func:`prosync.native.pitch.track`).
PARAMS = {
    "octave": 0.033,        # cost per octave of lag above the shortest lag
    "jump": 0.2235,         # cost per octave of F0 change between frames
    "vuv": 1.0,             # cost of a voiced <-> unvoiced transition (nats)
    "level_q": 0.705,       # the speaker's level: this quantile of periodic frames' energies
    "level_step_db": 0.778, # step of the online quantile tracker (dB per periodic frame)
    "level_periodicity": 0.8,  # frames above this periodicity count for the level
    "nac_weight": 0.6,      # weight of the short-window NAC against the CMNDF
    "prior_db": 6.0,        # before the first voiced frame: level = running max - prior_db
    "floor_rise_db": 0.02,  # the noise floor rises at most this much per frame (2 dB/s)
    "ap_weight": 2.0,       # the best candidate's aperiodicity as an extra voiced cost
    "noise_bias": 0.5,      # voicing log-odds added per 10 dB of level over floor below 30 dB
}

#: The voicing model: logistic weights on ``[1, evidence]`` (:data:`prosync.native.pitch.EVIDENCE`),
#: trained by ``bench/train_voicing.py`` across speakers and noise conditions.
VOICING_WEIGHTS = np.array([-1.740, -3.294, 0.996, 1.119, 0.156, -0.582, 1.908, 0.123, 0.611, 0.089, 0.065])

#: What :class:`PitchTracker` uses: the weights and the ``PARAMS`` chosen with them (the bench
#: swaps it for the model of a cross-validation fold).
VOICING_MODEL = {"w": VOICING_WEIGHTS, "params": {}}


def voicing_model_from(d: dict) -> dict:
    """A voicing model from its JSON form (``{"w": [...], "params": {name: value}}``)."""
    w = np.asarray(d["w"], dtype=np.float64)
    if w.shape != (kp.NX + 1,):
        raise ValueError(f"voicing model needs {kp.NX + 1} weights, got {w.shape}")
    params = {k: float(v) for k, v in d.get("params", {}).items()}
    unknown = set(params) - set(PARAMS)
    if unknown:
        raise ValueError(f"unknown tracker parameters {sorted(unknown)}")
    return {"w": w, "params": params}


_PARAM_INDEX = {
    "octave": kp.P_OCTAVE, "jump": kp.P_JUMP, "vuv": kp.P_VUV, "level_q": kp.P_LEVEL_Q,
    "level_step_db": kp.P_LEVEL_STEP, "nac_weight": kp.P_NAC_W, "prior_db": kp.P_PRIOR_DB,
    "floor_rise_db": kp.P_FLOOR_RISE, "ap_weight": kp.P_AP,
    "level_periodicity": kp.P_LEVEL_PER, "noise_bias": kp.P_NOISE_BIAS,
}


def tracker_params(tau_min: int, params: dict | None = None, model: dict | None = None):
    """The parameter vector of :func:`prosync.native.pitch.track`: ``params`` (default
    ``PARAMS``) overridden by the ``model``'s (default ``VOICING_MODEL``), and its weights."""
    model = model or VOICING_MODEL
    p = np.zeros(kp.N_PARAMS)
    for key, val in {**(params or PARAMS), **model["params"]}.items():
        p[_PARAM_INDEX[key]] = val
    p[kp.P_W:] = model["w"]
    p[kp.P_SR] = RATE2
    p[kp.P_TAU_MIN] = tau_min
    return p


def halfband_fir(taps: int = FIR_TAPS, cutoff_hz: float = FIR_CUTOFF_HZ) -> np.ndarray:
    """Anti-alias low-pass before decimating 16 kHz by 2: Hamming-windowed sinc, unit DC gain."""
    k = np.arange(taps) - taps // 2
    fc = 2.0 * cutoff_hz / SAMPLE_RATE
    h = fc * np.sinc(fc * k) * np.hamming(taps)
    return h / h.sum()


class PitchTracker:
    """Per-speaker F0, periodicity and voicing, one value per 10 ms hop.

    Frame ``i`` of a call to :meth:`process` is centred on ``x[c0 + i*HOP]``. The tracker reads
    ``LOOKBEHIND`` samples before and ``LOOKAHEAD`` samples after each centre (``LOOKAHEAD``
    includes the ``lag`` frames of the fixed-lag decision). State carried between calls makes
    the output independent of how frames are split into calls.

    Parameters
    ----------
    cfg : PitchConfig
        F0 floor and ceiling (Hz).
    max_frames : int
        Most frames per :meth:`process` call.
    """

    def __init__(self, cfg: PitchConfig, max_frames: int):
        self.cfg = cfg
        self.max_frames = int(max_frames)
        self.tau_min = max(2, int(RATE2 // cfg.ceiling_hz))
        self.tau_max = int(np.ceil(RATE2 / cfg.floor_hz))
        self._span = WIN2 + self.tau_max + 1           # y samples read per frame
        self._left = self._span // 2                   # y samples left of the centre
        right = self._span - 1 - self._left            # y samples right of the centre
        half_fir = FIR_TAPS // 2
        self.LOOKBEHIND = 2 * self._left + half_fir
        reach = 2 * right + half_fir + 1               # exclusive, at 16 kHz
        self.lag = max(0, min(MAX_LAG, (MAX_LOOKAHEAD - reach) // HOP))
        self.LOOKAHEAD = reach + self.lag * HOP
        self._h = halfband_fir()
        nf = self.max_frames + self.lag
        self._y = np.zeros((nf - 1) * (HOP // 2) + self._span, dtype=np.float32)
        self._r = np.zeros(self.tau_max + 2, dtype=np.float32)
        self._d = np.zeros(self.tau_max + 2)
        self._cand = np.zeros((3, nf, N_CAND))
        self._cnt = np.zeros(nf, dtype=np.int64)
        self._edb = np.zeros(nf)
        self._feat = np.zeros((nf, 3))
        self._sc = np.zeros((3, kp.LPC_ORDER + 1))
        self._prm = tracker_params(self.tau_min)
        self._st = np.zeros((2, N_CAND + 1 + max(5, kp.NX)))
        self._rtau = np.zeros((self.lag + 2, N_CAND))
        self._rbp = np.zeros((self.lag + 2, N_CAND + 1), dtype=np.int64)
        self._rf = np.zeros((self.lag + 2, 3 + kp.NX))
        #: Voicing log-odds and evidence of the frames of the last :meth:`process` call.
        self.evidence = np.zeros((self.max_frames, 1 + kp.NX))
        self._pos = np.zeros(1, dtype=np.int64)   # frames analysed (stream index of the next)
        self._done = 0                            # frames output

    @property
    def lookahead_s(self) -> float:
        return self.LOOKAHEAD / SAMPLE_RATE

    @property
    def level_db(self) -> float:
        """The speaker's level (band energy, dB) as tracked so far; NaN before any voiced frame."""
        lvl = self._st[0, N_CAND + 1:]
        return float(lvl[0]) if lvl[1] > 0.0 else float("nan")

    @property
    def floor_db(self) -> float:
        """The noise floor (band energy, dB) as tracked so far; NaN before the first frame."""
        lvl = self._st[0, N_CAND + 1:]
        return float(lvl[3]) if lvl[4] > 0.0 else float("nan")

    def process(self, x, c0, n, energy_db, out_f0, out_periodicity, out_voiced):
        """Fill ``out_*[:n]`` for the next ``n`` frames of the stream.

        Parameters
        ----------
        x : float32[:] 16 kHz buffer; ``x[c0 + i*HOP - LOOKBEHIND : c0 + i*HOP + LOOKAHEAD]`` valid.
        c0 : int, index in ``x`` of the centre of the first frame.
        n : int, frames (``<= max_frames``).
        energy_db : float32[n] frame energy (dBFS). Not used: the tracker measures the energy of
            its own 0-3.6 kHz band, which it needs ``lag`` frames ahead.
        out_f0 : float32[n] Hz, NaN when unvoiced. out_periodicity : float32[n] 0..1.
        out_voiced : bool[n].
        """
        if n <= 0:
            return
        a = int(self._pos[0]) - self._done     # first frame not analysed yet, relative to c0
        m = n + self.lag - a                   # frames to analyse in this call
        hop2 = HOP // 2
        start = c0 + a * HOP - 2 * self._left  # x index of y[0]
        ny = (m - 1) * hop2 + self._span
        kp.decimate2(x, start, ny, self._h, self._y)
        cand = self._cand
        kp.yin_candidates(self._y, self._left, m, hop2, WIN2, self.tau_min, self.tau_max, EWIN2,
                          SWIN2, self._r, self._d, cand[0], cand[1], cand[2], self._cnt,
                          self._edb, self._feat, self._sc)
        kp.track(cand, self._edb, self._feat, m, a - self.lag, self._prm, self._st, self._rtau,
                 self._rbp, self._rf, self._pos, out_f0, out_periodicity, out_voiced,
                 self.evidence)
        kp.refine_f0(x, c0, n, HOP, WIN_REFINE, float(SAMPLE_RATE), out_voiced, out_f0)
        self._done += n

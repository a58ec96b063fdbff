"""Causal pitch tracker: YIN candidates at 8 kHz, fixed-lag Viterbi, voicing from periodicity
and the band energy relative to the speaker's level.

Per 10 ms frame (all kernels in :mod:`prosync.native.pitch`):

1. the 16 kHz signal is low-passed (31-tap windowed sinc, 3.6 kHz) and decimated to 8 kHz,
   once per call for all the frames of the call, on a grid anchored to the frame centres so the
   result does not depend on how frames are split into calls;
2. the YIN difference function and CMNDF (de Cheveigné & Kawahara 2002) over a 20 ms window give
   the ``K`` deepest dips with parabolic interpolation; each dip also gets a normalised
   autocorrelation over a short (10 ms or one period) window centred on the frame, which keeps
   voicing onsets and offsets sharp;
3. a Viterbi search over the candidates plus an unvoiced state (octave cost, jump cost, voicing
   transition cost; unvoiced cost falling with the energy below the speaker's level, and carrying
   the octave cost of the frame's best candidate so that voicing does not depend on the voice's
   register; a cost for F0 more than an octave above the speaker's own register, tracked from
   the frames decided voiced; in stationary, aperiodic noise a credit of the noise's share of
   the frame's power on candidates near the speaker's running median F0, see
   :data:`prosync.native.pitch.NS_W`; no voicing below -80 dBFS) decides each
   frame ``lag`` frames late (fixed-lag smoothing inside the 50 ms look-ahead budget: 3 frames
   with the default 60 Hz floor);
4. the chosen period is refined on the 16 kHz signal (YIN difference function at the four
   integer lags around it, parabolic interpolation).

The constants (``PARAMS``) are tuned by ``bench/pitch_sim.py`` on FDA, PTDB-TUG and CMU ARCTIC
(EGG truth), clean and under 20 noise, babble, codec, telephone and reverberation conditions,
against Praat's errors per condition; the bench quotes the constants tuned with each dataset
held out (``bench/results/pitch_folds.json``, ``bench/results/pitch_tuning.md``).

A learned voicing decision can join step 3: with the keys ``"v_gain"`` and ``"v_weights"`` in a
parameter dict passed to :func:`tracker_params` (absent from ``PARAMS``, so 0: off), ``v_gain``
times the log-odds of a logistic model on the frame's evidence
(:func:`prosync.native.pitch.evidence`, weights ``v_weights``) is added to the unvoiced cost.
``bench/fit_voicing.py`` fits the weights and retunes the costs with speakers and datasets held out
(``bench/results/pitch_voicing_*.md``); held out, it did not beat the tracker without it on
both GPE and VDE (see the pitch section of ``bench/RESULTS.md``), so it is not switched on.
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
    "octave": 0.07,         # cost per octave of lag above the shortest lag (ranks candidates)
    "jump": 0.51,           # cost per octave of F0 change between frames
    "vuv": 0.26,            # cost of a voiced <-> unvoiced transition
    "uv_base": 0.11,        # unvoiced cost at uv_rel_db below the knee
    "uv_db": 0.018,         # change of the unvoiced cost per dB of band energy
    "uv_rel_db": 21.0,      # dB below the knee where the unvoiced cost is uv_base
    "uv_knee_db": 9.2,      # the unvoiced cost is flat (at its highest) down to this far below
                            # the level: a weak voiced frame needs no more periodicity than a
                            # loud one until it is this far down (Praat's silence threshold)
    "level_q": 0.78,        # the speaker's level: this quantile of voiced-frame energies
    "level_step_db": 0.83,  # step of the online quantile tracker (dB per voiced frame)
    "nac_weight": 0.55,     # weight of the short-window NAC against the CMNDF
    "prior_db": -8.8,       # before the first voiced frame: level = running max - prior_db
    "uv_octave": 1.0,       # the unvoiced cost carries the octave cost of the best candidate:
                            # voicing does not depend on the voice's register
    "octave_high": 0.5,     # cost per octave of F0 beyond an octave above the speaker's register
                            # (the F0 80 % of their voiced frames stay below): no F0 at 2-4x a low
                            # voice in the telephone band
}

#: Before the speaker's first voiced frame their level is taken as the running maximum of the
#: band energy minus ``prior_db``, but never below this (dB re full scale): hum or hiss 50-60 dB
#: under the coming speech (CMU ARCTIC's mains hum at -70 dB) is otherwise voiced and seeds the
#: level. Not tuned: speech levels in ../shared/data run from -13 (close mics) to -51 dB (AMI far
#: field), and at -51 dB a voiced onset still meets an unvoiced cost of 0.46 instead of 0.49.
PRIOR_FLOOR_DB = -40.0

_PARAM_INDEX = {
    "octave": kp.P_OCTAVE, "jump": kp.P_JUMP, "vuv": kp.P_VUV, "uv_base": kp.P_UV_BASE,
    "uv_db": kp.P_UV_DB, "uv_rel_db": kp.P_UV_REL_DB, "level_q": kp.P_LEVEL_Q,
    "level_step_db": kp.P_LEVEL_STEP, "nac_weight": kp.P_NAC_W, "prior_db": kp.P_PRIOR_DB,
    "uv_knee_db": kp.P_UV_KNEE, "v_gain": kp.P_V_GAIN, "prior_floor_db": kp.P_PRIOR_FLOOR,
    "uv_octave": kp.P_UV_OCT, "octave_high": kp.P_OCT_HIGH,
}


def tracker_params(tau_min: int, params: dict | None = None) -> np.ndarray:
    """The parameter vector of :func:`prosync.native.pitch.track` (``PARAMS`` by default)."""
    p = np.zeros(kp.N_PARAMS)
    p[kp.P_PRIOR_FLOOR] = PRIOR_FLOOR_DB
    for key, val in (params or PARAMS).items():
        if key == "v_weights":
            p[kp.P_VW:kp.P_VW + kp.N_EVIDENCE] = val
        else:
            p[_PARAM_INDEX[key]] = val
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
        self._cand = np.zeros((4, nf, N_CAND))
        self._cnt = np.zeros(nf, dtype=np.int64)
        self._edb = np.zeros(nf)
        self._prm = tracker_params(self.tau_min)
        self._delta = np.zeros(N_CAND + 1)
        self._nd = np.zeros(N_CAND + 1 + kp.N_EVIDENCE)
        self._rtau = np.zeros((self.lag + 2, N_CAND))
        self._rbp = np.zeros((self.lag + 2, N_CAND + 1), dtype=np.int64)
        self._rf = np.zeros((self.lag + 2, 2))
        self._lvl = np.zeros(kp.N_LEVEL)
        self._pos = np.zeros(1, dtype=np.int64)   # frames analysed (stream index of the next)
        self._done = 0                            # frames output

    @property
    def lookahead_s(self) -> float:
        return self.LOOKAHEAD / SAMPLE_RATE

    def kernel_state(self) -> tuple:
        """The arrays of :meth:`process` for the fused kernel
        (:func:`prosync.native.hop.speaker_frames`, which does what :meth:`process` does, with
        the frames output so far being its ``k0``), and the geometry as one int64 array."""
        geom = np.array([self.lag, self._left, self._span, self.tau_min, self.tau_max, WIN2,
                         EWIN2, SWIN2, WIN_REFINE], dtype=np.int64)
        return (self._h, self._y, self._r, self._d, self._cand, self._cnt, self._edb, self._prm,
                self._delta, self._nd, self._rtau, self._rbp, self._rf, self._lvl, self._pos, geom)

    @property
    def level_db(self) -> float:
        """The speaker's level (band energy, dB) as tracked so far; NaN before any voiced frame."""
        return float(self._lvl[0]) if self._lvl[1] > 0.0 else float("nan")

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
                          self._edb, cand[3])
        kp.track(cand, self._edb, m, a - self.lag, self._prm, self._delta, self._nd, self._rtau,
                 self._rbp, self._rf, self._lvl, self._pos, out_f0, out_periodicity, out_voiced)
        kp.refine_f0(x, c0, n, HOP, WIN_REFINE, float(SAMPLE_RATE), out_voiced, out_f0)
        self._done += n

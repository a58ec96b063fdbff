"""Speech rate without ASR: online syllable nuclei, syllables per second of the speaker's running
stretch of speech.

After de Jong & Wempe (2009), "Praat script to detect syllable nuclei and measure speech rate
automatically": a syllable nucleus is an intensity peak, above a silence threshold relative to the
speaker's level, followed by a dip of at least ``min_dip_db`` before the next peak, and voiced.
Here it runs online on the engine's 10 ms frames: the 25 ms frame energy is first smoothed into
an intensity contour (:data:`SMOOTH_WEIGHTS`), peaks are confirmed once the contour has fallen
the dip after them and are reported with their age, and a voicing decision within
:data:`VOICE_REACH` frames of the peak is accepted (robust to voicing found a frame or two off).
"""

from __future__ import annotations

import numpy as np

from ..native.nuclei import (
    I_AGE,
    I_SINCE,
    N_FSTATE,
    N_ISTATE,
    N_PARAMS,
    P_CLOSE,
    P_DECAY_DB,
    P_DELAY,
    P_FALL_DB,
    P_LEVEL_FLOOR,
    P_RISE_DB,
    P_SILENCE_DB,
    P_VOICE_REACH,
    POWER_FLOOR,
    SPEECH_HIST,
    nuclei_online,
    running_rate,
    smooth_intensity,
)
from .config import HOP_S, RateConfig

#: Weights of the intensity smoothing over the latest frames (power domain, newest first). The
#: 25 ms frames at a 10 ms hop averaged with these weights span about 65 ms, close to Praat's
#: intensity with a 50 Hz minimum pitch (a 64 ms window) that de Jong & Wempe use. The contour
#: lags the frames by half the length (2 frames); nuclei are reported with their age.
SMOOTH_WEIGHTS = (1.0, 2.0, 3.0, 2.0, 1.0)
#: The default dip, ``RateConfig.min_dip_db`` (1 dB; de Jong & Wempe use 2 dB on Praat's contour,
#: but on this contour 1 dB matched transcript syllable counts best: tuned on the FDA male
#: speaker, checked on the female one).
DEFAULT_DIP_DB = RateConfig.min_dip_db
#: De Jong & Wempe's rule keeps a peak when the intensity dips by the dip before the next peak,
#: whatever the rise before it. Here a peak less than :data:`CLOSE_S` after the previous nucleus
#: must also have risen ``RISE_FRACTION * dip`` above the dip between them: two nuclei that close
#: would be over 16 syllables/s, so such a peak is mostly a ripple of the same vowel. (Asking
#: every peak for the rise, i.e. a dip on both sides, missed more unstressed syllables.)
RISE_FRACTION = 0.5
CLOSE_S = 0.06
#: A peak is voiced if any frame within this many frames of it is voiced: tolerates voicing
#: decisions a frame or two late or early at vowel edges.
VOICE_REACH = 2
#: The speaker level (a running maximum of the intensity) decays by this much per second.
LEVEL_DECAY_DB_PER_S = 0.5
#: The speaker level used for the silence threshold is at least this (dBFS), so peaks below
#: -50 - silence_db dBFS are never nuclei (noise before the first speech cannot set the level).
LEVEL_FLOOR_DB = -50.0


#: The rate is NaN until the speaker has spoken this long (s; or ``window_s`` when shorter):
#: fewer syllables than that are no evidence of a rate.
MIN_SPEECH_S = 1.0


class RateTracker:
    """Counts syllable nuclei and reports ``rate_sps``, syllables per second of the speaker's
    last ``window_s`` seconds of speech.

    The window runs over the speaker's speech frames, skipping pauses
    (:func:`~prosync.native.nuclei.running_rate`): the rate at frame ``k`` counts the nuclei
    confirmed by frame ``k`` that lie on the last ``window_s`` of speech frames up to ``k``, per
    second of that speech: an articulation rate (de Jong & Wempe's syllables per second of
    phonation time) over a running stretch of speech. A wall-clock window (the rate until
    now) restarted from 0 after every pause longer than the window and climbed through each
    utterance; two speakers taking turns then correlate by their turn-taking alone (the
    follower's low onset against the leader's high end: r about -0.5 between people who never
    met, bench/results/sync_null.md). Now a new utterance continues from the speaker's running
    rate, the rate in a pause is the last one, and before :data:`MIN_SPEECH_S` of speech it is
    NaN. Same output for any split of the frames into :meth:`process` calls.

    Parameters
    ----------
    cfg : RateConfig
        ``min_dip_db`` (the fall after a peak, default :data:`DEFAULT_DIP_DB`),
        ``silence_db`` (peaks below the speaker level minus this are silence), ``window_s``.
    smooth_weights, min_dip_db, rise_fraction, close_s, voice_reach, level_decay_db_per_s, \
level_floor_db : optional
        Override the module constants (for tuning and tests).
    """

    def __init__(self, cfg: RateConfig, *, smooth_weights=None, min_dip_db=None,
                 rise_fraction=None, close_s=None, voice_reach=None,
                 level_decay_db_per_s=None, level_floor_db=None):
        cfg.validate()
        self.cfg = cfg
        w = np.asarray(SMOOTH_WEIGHTS if smooth_weights is None else smooth_weights, dtype=float)
        self._weights = w / w.sum()
        self.delay = (len(w) - 1) // 2
        if min_dip_db is None:
            min_dip_db = cfg.min_dip_db
        rf = RISE_FRACTION if rise_fraction is None else rise_fraction
        decay = LEVEL_DECAY_DB_PER_S if level_decay_db_per_s is None else level_decay_db_per_s
        p = np.zeros(N_PARAMS)
        p[P_RISE_DB] = min_dip_db * rf
        p[P_FALL_DB] = min_dip_db
        p[P_SILENCE_DB] = cfg.silence_db
        p[P_DECAY_DB] = decay * HOP_S
        p[P_LEVEL_FLOOR] = LEVEL_FLOOR_DB if level_floor_db is None else level_floor_db
        p[P_DELAY] = self.delay
        p[P_VOICE_REACH] = VOICE_REACH if voice_reach is None else voice_reach
        p[P_CLOSE] = round((CLOSE_S if close_s is None else close_s) / HOP_S)
        self.params = p
        self._hist = np.full(len(w), POWER_FLOOR)
        self._pos = np.zeros(1, dtype=np.int64)
        self._fstate = np.full(N_FSTATE, np.nan)
        self._istate = np.zeros(N_ISTATE, dtype=np.int64)
        self._istate[I_AGE] = -1
        self._istate[I_SINCE] = 10**9
        self._win = max(1, int(round(cfg.window_s / HOP_S)))
        self._min_speech = min(self._win, int(round(MIN_SPEECH_S / HOP_S)))
        # a counted nucleus sits on its own speech frame: at most win of them in the window
        self._ring = np.zeros(self._win + 1, dtype=np.int64)
        self._head = np.zeros(3, dtype=np.int64)
        self._speech_hist = np.zeros(SPEECH_HIST, dtype=np.int64)
        self._contour = np.zeros(128, dtype=np.float32)

    def kernel_state(self) -> tuple:
        """The arrays of :meth:`process` for the fused kernel
        (:func:`prosync.native.hop.speaker_frames`; batches of at most ``len(contour)`` frames)."""
        return (self._weights, self._hist, self._pos, self._contour, self.params, self._fstate,
                self._istate, self._ring, self._head, self._speech_hist, self._win,
                self._min_speech)

    def process(self, k0, n, intensity_db, voiced, speech, out_nucleus_age, out_rate_sps):
        """Analyse frames ``k0 .. k0+n-1``; fill ``out_nucleus_age[:n]`` and ``out_rate_sps[:n]``.

        ``intensity_db``: float32 frame energy (dBFS, 25 ms window); ``voiced``: bool voicing;
        ``speech``: bool voice activity (the rate's time base).
        ``out_nucleus_age[i]`` is the age in frames of a nucleus confirmed at frame ``k0 + i``
        (the nucleus is frame ``k0 + i - age``) or -1.
        """
        if self._contour.shape[0] < n:  # grows once to the caller's batch size
            self._contour = np.zeros(n, dtype=np.float32)
        c = self._contour
        smooth_intensity(intensity_db, n, self._weights, self._hist, self._pos, c)
        nuclei_online(c, voiced, n, self.params, self._fstate, self._istate, out_nucleus_age)
        running_rate(k0, n, out_nucleus_age, speech, self._ring, self._head, self._speech_hist,
                     self._win, self._min_speech, out_rate_sps)


def articulation_rate(nucleus_frames: np.ndarray, ipu_start_s: float, ipu_end_s: float) -> float:
    """Articulation rate of one inter-pausal unit: syllable nuclei in it per second of it.

    Parameters
    ----------
    nucleus_frames : int array
        Frame indices of nuclei (frame ``k`` is centred at ``(k + 0.5) * 0.01`` s), e.g. frame
        index minus ``nucleus_age`` of the frames with ``nucleus_age >= 0``.
    ipu_start_s, ipu_end_s : float
        The IPU's start and end (s); nuclei with ``start <= t < end`` are counted.

    Returns
    -------
    float
        Syllables per second of the IPU (``_sps``); NaN for an empty or inverted IPU.
    """
    dur = float(ipu_end_s) - float(ipu_start_s)
    if not dur > 0.0:
        return float("nan")
    t = (np.asarray(nucleus_frames, dtype=np.float64) + 0.5) * HOP_S
    k = int(np.count_nonzero((t >= ipu_start_s) & (t < ipu_end_s)))
    return k / dur

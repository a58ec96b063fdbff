"""The turn-yielding cues at the end of an IPU, relative to the speaker's own baseline.

Gravano & Hirschberg (2011, "Turn-taking cues in task-oriented dialogue", Computer Speech &
Language 25:601-634) found that the likelihood of a turn switch rises roughly *linearly with the
number of turn-yielding cues* shown together; each cue here is a soft count 0..1, all relative to
the speaker's own baseline (online calibration, :class:`~prosync.calibration.baseline.SpeakerBaseline`):

* ``cue_f0_move``: a final fall or rise: |F0 change| over the last 250 ms of voicing, in
  quarters of the speaker's 5-95 % F0 range (a plateau, the "continuation" contour, scores 0);
* ``cue_f0_low``: a final pitch level below the speaker's median (in halves of the range);
* ``cue_energy``: energy decay: the last 200 ms of speech below the speaker's speech level
  (6 dB = 1);
* ``cue_voicing``: voicing loss: the share of unvoiced frames among the last 200 ms of speech
  (breathy or creaky endings; G&H's voice-quality cue);
* ``cue_lengthening``: final lengthening (Duncan 1972's "drawl"): the last voiced stretch against
  the speaker's syllable duration (1 / their rate): twice as long = 1;
* ``cue_ipu``: IPU length, log-scaled between 0.5 s (0) and 4 s (1) (G&H: longer IPUs
  precede switches);
* ``cue_other``: the other channel: 1 minus the other's speech share in the last second of the
  user's IPU (a backchannel or talk from the other party during the user's speech signals that
  the user is expected to go on). The other channel is read only up to the end of the user's
  speech, never during the silence being judged.


:func:`cue_values` measures them from the last frames before an end of speech; the end-of-turn
model (:mod:`prosync.engine.endofturn`) weighs their sum.
"""

from __future__ import annotations

import math

import numpy as np

from .config import HOP_S

#: Frames of voicing whose F0 change is the final movement (250 ms).
F0_WIN = 25
#: Frames of the end of speech for energy decay and voicing loss (200 ms).
END_WIN = 20
#: Window of the other channel's activity before the user's end of speech (1 s).
OTHER_WIN = 100

CUE_NAMES = ("cue_f0_move", "cue_f0_low", "cue_energy", "cue_voicing", "cue_lengthening",
             "cue_ipu", "cue_other")


def _median(v: list) -> float:
    """Median of a short list (as np.median, without its per-call overhead)."""
    v = sorted(v)
    n = len(v)
    return 0.5 * (v[(n - 1) // 2] + v[n // 2])


def _clip01(x: float) -> float:
    return 0.0 if not math.isfinite(x) else min(1.0, max(0.0, x))


def cue_values(r: dict, snap, ipu_s: float) -> tuple:
    """The seven cues at the end of the IPU that just ended (``ipu_s`` long), from its last
    frames ``r`` and the user's baseline ``snap`` then."""
    f0, en, vo, sp = r["f0"], r["en"], r["vo"], r["sp"]
    # final F0 movement and level, semitones re the speaker's median, in units of their range
    rng = snap.f0_range_st if math.isfinite(snap.f0_range_st) and snap.f0_range_st > 1 else 8.0
    med = snap.f0_median_st
    fv = np.flatnonzero(vo & np.isfinite(f0) & (f0 > 0))
    move = low = 0.0
    if fv.size >= 6:
        st = (12.0 * np.log2(f0[fv[-F0_WIN:]])).tolist()
        k = max(2, len(st) // 4)
        last = _median(st[-k:])
        move = _clip01(abs(last - _median(st[:k])) / (0.25 * rng))
        if math.isfinite(med):
            low = _clip01((med - last) / (0.5 * rng))
    # energy decay and voicing loss over the last 200 ms of speech
    spi = np.flatnonzero(sp)[-END_WIN:]
    energy = voicing = 0.0
    if spi.size:
        lvl = snap.speech_level_db
        if math.isfinite(lvl):
            energy = _clip01((lvl - float(en[spi].sum()) / spi.size) / 6.0)  # = np.mean
        voicing = _clip01(1.0 - int(np.count_nonzero(vo[spi])) / spi.size)
    # final lengthening: the last voiced run against the speaker's syllable duration
    length = 0.0
    rate = snap.rate_sps if math.isfinite(snap.rate_sps) and snap.rate_sps > 0.5 else 4.0
    if fv.size:
        gaps = np.flatnonzero(fv[1:] - fv[:-1] != 1)
        run = fv.size - (int(gaps[-1]) + 1 if gaps.size else 0)
        length = _clip01(run * HOP_S * rate - 1.0)
    ipu = _clip01(math.log2(max(ipu_s, 1e-3) / 0.5) / 3.0)
    oth = r["ot"][-OTHER_WIN:]
    other = 1.0 - (int(np.count_nonzero(oth)) / oth.size if oth.size else 0.0)
    return move, low, energy, voicing, length, ipu, other

"""Voice activity: webrtcvad flags AND energy above an adaptive noise floor, with hangover."""

from ._jit import jit

#: Frames quieter than this (dBFS) are never speech.
ABS_FLOOR_DB = -75.0
#: Offset of the speech-level slot of the VAD state: ``state[2] = level_db - LEVEL_REF_DB``, so
#: the zero a fresh state holds means "no speech heard yet" (level at the -120 dB energy floor).
LEVEL_REF_DB = -120.0


@jit
def vad_combine(energy_db, webrtc, n, state, margin_db, rise_db, hang_frames, out_speech,
                rel_db=1000.0, level_fall_db=0.0):
    """Speech decision for ``n`` frames, carrying ``state`` across calls.

    Parameters
    ----------
    energy_db : float array, shape (>= n,)
        Frame energy in dBFS.
    webrtc : bool array, shape (>= n,)
        webrtcvad's decision per frame.
    n : int
        Frames to process.
    state : float64 array, shape (3,)
        ``[noise floor dB (NaN before the first frame), hangover frames left,
        speech level dB - LEVEL_REF_DB (0 before any speech)]``; updated in place.
        A fresh state is ``[nan, 0, 0]``.
    margin_db : float
        A frame is speech only when its energy is this far above the noise floor.
    rise_db : float
        Largest rise of the noise floor per frame (dB). The floor follows the energy down at
        once (minimum tracking).
    hang_frames : int
        Speech is held this many frames after the last speech frame.
    out_speech : bool array, shape (>= n,)
        Filled with the decision.
    rel_db : float
        A frame is speech only when its energy is at most this far below the speaker's running
        speech level (the loudest speech frame, decaying by ``level_fall_db`` per frame): rejects
        quiet sounds of a speaker who speaks much louder (default: off).
    level_fall_db : float
        Decay of the running speech level per frame (dB).

    A frame is raw speech when webrtcvad says so, its energy is ``margin_db`` above the floor,
    within ``rel_db`` of the speech level and above ``ABS_FLOOR_DB``; the output is raw speech
    held ``hang_frames`` frames.
    """
    floor = state[0]
    hang = state[1]
    level = state[2] + LEVEL_REF_DB
    for i in range(n):
        e = float(energy_db[i])  # float64 arithmetic also when JIT is disabled
        if not (floor == floor) or e < floor:
            floor = e
        else:
            floor += rise_db
        if level > LEVEL_REF_DB:
            level -= level_fall_db
            if level < LEVEL_REF_DB:
                level = LEVEL_REF_DB
        raw = webrtc[i] and e > floor + margin_db and e > ABS_FLOOR_DB
        if raw and e > level:
            level = e
        if raw and e > level - rel_db:
            hang = hang_frames
            out_speech[i] = True
        elif hang > 0:
            hang -= 1
            out_speech[i] = True
        else:
            out_speech[i] = False
    state[0] = floor
    state[1] = hang
    state[2] = level - LEVEL_REF_DB


@jit
def remove_bleed(energy_a, speech_a, energy_b, speech_b, n, bleed_db):
    """Drop a channel's speech where it is only the other channel's bleed.

    Where both channels are marked speech and one is more than ``bleed_db`` quieter than the
    other, the quieter channel is taken to carry the louder speaker's voice through its
    microphone, and its speech flag is cleared. Flags are changed in place.
    """
    for i in range(n):
        if speech_a[i] and speech_b[i]:
            if energy_a[i] < energy_b[i] - bleed_db:
                speech_a[i] = False
            elif energy_b[i] < energy_a[i] - bleed_db:
                speech_b[i] = False


@jit
def apply_hangover(raw, n, state, hang_frames, out):
    """``out[i]`` is True for raw speech frames and the ``hang_frames`` frames after each;
    ``state[0]`` carries the frames of hangover left across calls."""
    hang = state[0]
    for i in range(n):
        if raw[i]:
            hang = hang_frames
            out[i] = True
        elif hang > 0:
            hang -= 1
            out[i] = True
        else:
            out[i] = False
    state[0] = hang

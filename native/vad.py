"""Voice activity: webrtcvad flags combined with energy above an adaptive noise floor, with hangover."""

from ._jit import jit


@jit
def vad_combine(energy_db, webrtc, n, state, margin_db, rise_db, hang_frames, out_speech):
    """Speech decision for ``n`` frames, carrying ``state`` across calls.

    ``state`` is float64[3]: noise floor (dB, NaN before the first frame), hangover frames left,
    unused. The floor follows the frame energy down at once and rises by at most ``rise_db``
    per frame (minimum tracking). A frame is speech when webrtcvad says so and its energy is
    ``margin_db`` above the floor; speech is held ``hang_frames`` frames after the last such frame.
    """
    floor = state[0]
    hang = state[1]
    for i in range(n):
        e = energy_db[i]
        if not (floor == floor) or e < floor:
            floor = e
        else:
            floor += rise_db
        raw = webrtc[i] and e > floor + margin_db and e > -75.0
        if raw:
            hang = hang_frames
            out_speech[i] = True
        elif hang > 0:
            hang -= 1
            out_speech[i] = True
        else:
            out_speech[i] = False
    state[0] = floor
    state[1] = hang


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

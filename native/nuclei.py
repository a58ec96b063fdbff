"""Online syllable nuclei after de Jong & Wempe (2009): voiced intensity peaks with dips around them.

Three kernels, each streaming (state in caller-owned arrays, the same result for any split of the
frame sequence into calls) and allocation-free:

* :func:`smooth_intensity` turns the 25 ms frame energy into a smoother intensity contour (a
  weighted moving average in the power domain, like Praat's 64 ms Kaiser-windowed intensity with a
  50 Hz minimum pitch that de Jong & Wempe use), delayed by half its length;
* :func:`nuclei_online` picks the peaks of that contour (paraphrasing de Jong & Wempe 2009:
  intensity peaks above a silence threshold relative to the speaker's level, separated by dips of
  at least 2 dB, and voiced). Their Praat script (v3) keeps a peak when the intensity between it
  and the next peak falls more than the dip below it; that is the rule here, except that a peak
  within ``close`` frames of the previous nucleus (a ripple of the same vowel, as syllables are
  rarely that close) must also have risen ``rise`` dB;
* :func:`running_rate` turns confirmed nuclei into syllables per second of speech over the
  speaker's last few seconds of speech (pauses skipped).
"""

import numpy as np

from ._jit import jit

#: Lowest power (linear, mean square re full scale) used for a frame: -120 dB.
POWER_FLOOR = 1e-12

# indices of the detector's parameter array (``params`` of :func:`nuclei_online`)
P_RISE_DB = 0      # rise above the valley before a peak close to the previous nucleus (dB)
P_FALL_DB = 1      # fall below the peak that confirms it (dB)
P_SILENCE_DB = 2   # peak must be above (speaker level - this) (dB)
P_DECAY_DB = 3     # speaker level decay per frame (dB)
P_LEVEL_FLOOR = 4  # the speaker level is at least this (dBFS)
P_DELAY = 5        # delay of the intensity contour behind the frames (frames, integer valued)
P_VOICE_REACH = 6  # a peak counts as voiced if any frame within +-this is voiced (frames)
P_CLOSE = 7        # the rise applies to peaks less than this after the previous nucleus (frames)
N_PARAMS = 8

# indices of the detector's float state (``fstate``)
F_LEVEL = 0    # speaker level (dBFS), NaN before the first frame
F_VALLEY = 1   # lowest intensity since the candidate peak, or since the last decision (dB)
F_PEAK = 2     # intensity of the candidate peak (dB)
F_PREV = 3     # previous contour value (dB), NaN before the first frame
N_FSTATE = 4

# indices of the detector's integer state (``istate``)
I_AGE = 0      # frames since the candidate peak (contour time), -1 = no candidate
I_VOICED = 1   # the candidate peak is voiced (0/1)
I_VBITS = 2    # voicing of the latest 63 frames, bit j = frame (current - j)
I_RISING = 3   # the contour rose at the previous frame (0/1)
I_SINCE = 4    # frames since the previous nucleus (contour time), large at the start
N_ISTATE = 5


@jit
def smooth_intensity(intensity_db, n, weights, hist, pos, out_db):
    """Weighted moving average of frame powers, in dB.

    Parameters
    ----------
    intensity_db : float32[>= n]
        Frame energy (dBFS) of the frames of this call.
    n : int
        Number of frames.
    weights : float64[W]
        Averaging weights (sum 1), ``weights[0]`` for the newest frame. Symmetric weights make
        ``out_db[i]`` the intensity of frame ``k0 + i - (W - 1) // 2``.
    hist : float64[W]
        State: ring of the latest W frame powers (initialise to ``POWER_FLOOR``).
    pos : int64[1]
        State: ring slot of the newest power (initialise to 0).
    out_db : float32[>= n]
        Output: smoothed intensity (dB); NaN or infinite input counts as the floor.
    """
    w = weights.shape[0]
    p = pos[0]
    for i in range(n):
        e = intensity_db[i]
        # NaN and +-inf (broken input) count as the floor
        pw = 10.0 ** (0.1 * e) if np.isfinite(e) else POWER_FLOOR
        if pw < POWER_FLOOR:
            pw = POWER_FLOOR
        p = (p + 1) % w
        hist[p] = pw
        acc = 0.0
        for j in range(w):
            acc += weights[j] * hist[(p - j + w) % w]
        out_db[i] = 10.0 * np.log10(acc) if acc > POWER_FLOOR else -120.0
    pos[0] = p


@jit
def nuclei_online(contour_db, voiced, n, params, fstate, istate, out_age):
    """Detect syllable nuclei frame by frame: peaks of an intensity contour with dips around them.

    ``contour_db[i]`` is the intensity of frame ``k0 + i - D`` (``D = params[P_DELAY]``, the lag
    of :func:`smooth_intensity`) and ``voiced[i]`` the voicing of frame ``k0 + i``.

    A local maximum of the contour becomes the candidate peak when it lies above the current
    candidate, or when it lies at least ``r`` dB above the lowest point since the previous
    candidate (or decision), where ``r = rise`` for a local maximum less than ``close`` frames
    after the previous nucleus and ``r = 0`` otherwise. The candidate is a nucleus once the
    contour falls ``fall`` dB below it, if it (a) lies less than ``silence`` dB below the speaker
    level (a running maximum of the contour that decays by ``decay`` dB per frame and is at least
    ``level_floor``) and (b) is voiced: some frame within ``+-reach`` of it is voiced (frames not
    yet seen are not looked at). With ``close = 0`` this is de Jong & Wempe's rule (a peak counts
    when the intensity dips by ``fall`` before the next peak); with a very large ``close`` and
    ``rise = fall`` it is hysteresis peak picking (a dip of ``fall`` on both sides).

    A nucleus is reported at the frame where the fall is confirmed: ``out_age[i]`` is its age in
    frames (the nucleus is frame ``k0 + i - out_age[i]``), or -1 when none is confirmed at i.

    Parameters
    ----------
    contour_db : float32[>= n]
    voiced : bool[>= n]
    n : int
    params : float64[N_PARAMS]
        See the ``P_*`` indices.
    fstate : float64[N_FSTATE]
        State, see ``F_*``; initialise to NaN.
    istate : int64[N_ISTATE]
        State, see ``I_*``; initialise to ``[-1, 0, 0, 0, 10**9]``.
    out_age : int64[>= n]
    """
    rise = params[P_RISE_DB]
    fall = params[P_FALL_DB]
    silence = params[P_SILENCE_DB]
    decay = params[P_DECAY_DB]
    floor = params[P_LEVEL_FLOOR]
    delay = np.int64(params[P_DELAY])
    reach = np.int64(params[P_VOICE_REACH])
    close = np.int64(params[P_CLOSE])
    # voicing bits of the frames within +-reach of the local maximum found at this frame, which is
    # the contour's previous frame: frame (current - delay - 1); bit 0 = current frame
    lo = delay + 1 - reach
    if lo < 0:
        lo = 0
    hi = delay + 1 + reach
    if hi > 62:
        hi = 62
    vmask = np.int64(0)
    for b in range(lo, hi + 1):
        vmask |= np.int64(1) << b
    level = fstate[F_LEVEL]
    valley = fstate[F_VALLEY]
    peak = fstate[F_PEAK]
    prev = fstate[F_PREV]
    age = istate[I_AGE]
    pvoiced = istate[I_VOICED]
    vbits = istate[I_VBITS]
    rising = istate[I_RISING]
    since = istate[I_SINCE]
    for i in range(n):
        out_age[i] = -1
        vbits = ((vbits << 1) | (np.int64(1) if voiced[i] else np.int64(0))) & 0x7FFFFFFFFFFFFFFF
        e = np.float64(contour_db[i])
        if not (e == e):
            e = -120.0
        if not (level == level) or e > level:
            level = e
        else:
            level -= decay
        if age >= 0:
            age += 1
        since += 1
        if rising == 1 and e <= prev:
            # the previous frame is a local maximum
            r = rise if since - 1 < close else 0.0
            if prev - valley >= r or (age >= 0 and prev > peak):
                peak = prev
                age = 1
                pvoiced = 1 if (vbits & vmask) != 0 else 0
                valley = e
        if not (valley == valley) or e < valley:
            valley = e
        if age >= 0 and e <= peak - fall:
            ref = level if level > floor else floor
            if pvoiced == 1 and peak > ref - silence:
                out_age[i] = age + delay
                since = age
            age = -1
            valley = e
        rising = 1 if (prev == prev and e > prev) else 0
        prev = e
    fstate[F_LEVEL] = level
    fstate[F_VALLEY] = valley
    fstate[F_PEAK] = peak
    fstate[F_PREV] = prev
    istate[I_AGE] = age
    istate[I_VOICED] = pvoiced
    istate[I_VBITS] = vbits
    istate[I_RISING] = rising
    istate[I_SINCE] = since


#: Frames of speech-index history :func:`running_rate` keeps: a nucleus confirmed more than
#: ``SPEECH_HIST - 2`` frames after its own frame (never seen: the contour falls 1 dB within a
#: syllable) is not counted.
SPEECH_HIST = 128


@jit
def running_rate(k0, n, ages, speech, ring, head, hist, win, min_speech, out_rate):
    """Syllables per second of speech over the speaker's last ``win`` speech frames.

    The window is counted in the speaker's own speech frames, skipping pauses: the rate at
    frame ``k`` is the number of nuclei confirmed by frame ``k`` that lie on one of the last
    ``win`` speech frames up to ``k``, divided by the time of those frames (``min(S, win)``
    frames of 10 ms, ``S`` the speech frames so far): an articulation rate that carries over
    a pause, so a new utterance continues from the speaker's running rate instead of
    restarting from 0. NaN until the speaker has ``min_speech`` speech frames. A nucleus
    counts when its own frame is speech.

    Parameters
    ----------
    k0 : int
        Absolute index of the first frame of this call.
    n : int
    ages : int64[>= n]
        Output of :func:`nuclei_online` (-1 = none): nuclei are confirmed in the order of
        their frames.
    speech : bool[>= n]
        The speaker's speech decision per frame.
    ring : int64[m]
        State: speech indices of the counted nuclei in the window, oldest first from slot
        ``(head[0] - head[1]) % m``; ``m > win`` (initialise to 0).
    head : int64[3]
        State: next write slot, nuclei in the window, speech frames so far (initialise to 0).
    hist : int64[SPEECH_HIST]
        State: speech frames up to and including frame ``k`` in slot ``k % SPEECH_HIST``
        (initialise to 0).
    win, min_speech : int
    out_rate : float32[>= n]
    """
    m = ring.shape[0]
    H = hist.shape[0]
    h = head[0]
    cnt = head[1]
    s = head[2]
    for i in range(n):
        k = k0 + i
        if speech[i]:
            s += 1
        hist[k % H] = s
        # nuclei whose speech frame left the last win speech frames
        while cnt > 0 and ring[(h - cnt + m) % m] <= s - win:
            cnt -= 1
        a = ages[i]
        if a >= 0 and a < H - 1:
            f = k - a
            sf = hist[f % H]
            before = hist[(f - 1 + H) % H] if f > 0 else 0
            if sf > before and sf > s - win:  # on a speech frame, still in the window
                ring[h] = sf
                h = (h + 1) % m
                cnt += 1
        d = s if s < win else win
        out_rate[i] = cnt / (d * 0.01) if s >= min_speech and d > 0 else np.nan
    head[0] = h
    head[1] = cnt
    head[2] = s

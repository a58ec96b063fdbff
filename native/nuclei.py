"""Online syllable nuclei after de Jong & Wempe (2009): intensity peaks with a dip on both sides."""

import numpy as np

from ._jit import jit


@jit
def nuclei_online(intensity_db, voiced, n, state, min_dip_db, silence_db, out_nucleus):
    """Detect syllable nuclei frame by frame.

    A nucleus is an intensity peak that (a) rose at least ``min_dip_db`` above the lowest point
    since the previous nucleus, (b) is followed by a fall of at least ``min_dip_db``, (c) lies less
    than ``silence_db`` below the speaker's running maximum and (d) is voiced. It is reported at the
    frame where (b) is confirmed: ``out_nucleus[i]`` holds the age in frames of the nucleus confirmed
    at frame ``i`` (its time is frame ``i - age``), or -1.

    ``state`` is float64[6]: running max (dB), valley since last nucleus (dB), candidate peak (dB),
    candidate age (frames, -1 = none), candidate voiced (0/1), unused.
    """
    run_max = state[0]
    valley = state[1]
    peak = state[2]
    age = state[3]
    pvoiced = state[4]
    for i in range(n):
        e = intensity_db[i]
        out_nucleus[i] = -1
        if not (run_max == run_max) or e > run_max:
            run_max = e
        else:
            run_max -= 0.001  # slow decay: 1 dB per 10 s of frames
        if age >= 0:
            age += 1
        if not (valley == valley) or e < valley:
            valley = e
        # a rising point above the valley becomes / replaces the candidate peak
        if e >= valley + min_dip_db and (age < 0 or e > peak):
            peak = e
            age = 0
            pvoiced = 1.0 if voiced[i] else 0.0
        elif age >= 0 and e <= peak - min_dip_db:
            if pvoiced > 0.5 and peak > run_max - silence_db:
                out_nucleus[i] = np.int64(age)
            age = -1
            valley = e
    state[0] = run_max
    state[1] = valley
    state[2] = peak
    state[3] = age
    state[4] = pvoiced


@jit
def rolling_count(k0, n, ages, ring, head, win, out_rate):
    """Syllables per second over the last ``win`` frames (10 ms each), from confirmed nuclei.

    ``ring`` holds absolute frame indices of recent nuclei, ``head[0]`` the next write slot.
    """
    m = ring.shape[0]
    h = head[0]
    for i in range(n):
        k = k0 + i
        if ages[i] >= 0:
            ring[h] = k - ages[i]
            h = (h + 1) % m
        cnt = 0
        for j in range(m):
            if ring[j] > k - win:
                cnt += 1
        out_rate[i] = cnt / (win * 0.01)
    head[0] = h

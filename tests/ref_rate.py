"""Slow, obviously correct references of the speech-rate kernels (``native/nuclei.py``).

Each works on the whole frame sequence at once (batch), in plain Python, stated the way the
method is described rather than as a state machine, so that the streaming kernels can be checked
against them on random inputs and random splits into calls.
"""

from __future__ import annotations

import math

import numpy as np

FLOOR_DB = -120.0


def ref_smooth_intensity(intensity_db, weights):
    """``out[k] = 10 log10(sum_j w[j] * power[k - j])``; frames before the start, NaN and
    infinite frames at -120 dB."""
    w = np.asarray(weights, dtype=float)
    p = []
    for e in intensity_db:
        e = float(e)
        p.append(max(10.0 ** (0.1 * e), 1e-12) if math.isfinite(e) else 1e-12)
    out = np.empty(len(p))
    for k in range(len(p)):
        acc = 0.0
        for j in range(len(w)):
            acc += w[j] * (p[k - j] if k - j >= 0 else 1e-12)
        out[k] = 10.0 * math.log10(acc) if acc > 1e-12 else FLOOR_DB
    return out


def ref_nuclei(contour_db, voiced, rise, fall, silence, decay, level_floor, delay, reach,
               close):
    """Ages of confirmed nuclei per frame (-1 = none), from the whole contour at once.

    ``contour_db[i]`` is the intensity of frame ``i - delay``; ``voiced[i]`` the voicing of frame i.

    * Speaker level: ``level[0] = c[0]``; ``level[i] = c[i]`` if ``c[i] > level[i-1]``, else
      ``level[i-1] - decay``.
    * ``q`` is a local maximum when ``c[q-1] < c[q] >= c[q+1]``; it is seen at frame ``q + 1``.
    * The lowest point "since the last event" is the minimum of ``c`` from the frame of the last
      event (the frame where a candidate was taken, or where a decision was made; 0 at the start)
      up to ``q``. A local maximum becomes the candidate if it lies above the current candidate,
      or at least ``r`` above that minimum: ``r = rise`` if ``q`` is less than ``close`` frames
      after the last nucleus, else 0.
    * The candidate is decided at the first frame ``i`` with ``c[i] <= c[cand] - fall``: it is a
      nucleus if some frame within ``reach`` of frame ``cand - delay`` (and not after ``i``) is
      voiced, and ``c[cand] > max(level[i], level_floor) - silence``; its age is
      ``i - cand + delay``.
    """
    c = [FLOOR_DB if math.isnan(float(x)) else float(x) for x in contour_db]
    n = len(c)
    level = []
    for i in range(n):
        if i == 0 or c[i] > level[-1]:
            level.append(c[i])
        else:
            level.append(level[-1] - decay)
    out = np.full(n, -1, dtype=np.int64)
    cand = None
    event = 0
    last = None  # contour index of the last nucleus
    for i in range(n):
        q = i - 1
        if q >= 1 and c[q] > c[q - 1] and c[i] <= c[q]:
            low = min(c[event:q + 1])
            r = rise if last is not None and q - last < close else 0.0
            if c[q] - low >= r or (cand is not None and c[q] > c[cand]):
                cand = q
                event = i
        if cand is not None and c[i] <= c[cand] - fall:
            f = cand - delay
            is_voiced = any(voiced[t] for t in range(max(0, f - reach), min(i, f + reach) + 1))
            ref = max(level[i], level_floor)
            if is_voiced and c[cand] > ref - silence:
                out[i] = i - cand + delay
                last = cand
            cand = None
            event = i
    return out


def ref_running_rate(k0, ages, speech, win, min_speech, hist=128):
    """Rate at frame ``k``: the nuclei confirmed at frames ``<= k``, each on a speech frame
    ``f`` (confirmed less than ``hist - 1`` frames after it), that lie on the last ``win``
    speech frames up to ``k`` (``S(f) > S(k) - win``, ``S(k)`` the speech frames up to ``k``),
    per second of those frames (``min(S(k), win)`` x 10 ms); NaN while ``S(k) < min_speech``."""
    s = np.cumsum(np.asarray(speech, dtype=np.int64))
    nuclei = [(i, i - int(a)) for i, a in enumerate(ages)
              if 0 <= a < hist - 1 and i - int(a) >= 0 and speech[i - int(a)]]
    out = np.empty(len(ages))
    for k in range(len(ages)):
        if s[k] < min_speech:
            out[k] = np.nan
            continue
        cnt = sum(1 for conf, f in nuclei if conf <= k and s[f] > s[k] - win)
        out[k] = cnt / (min(s[k], win) * 0.01)
    return out


def synth_syllables(rate_sps, dur_s=3.0, sr=16000, f0_hz=120.0, depth_db=30.0, noise=False,
                    seed=0):
    """A vowel-like harmonic complex (or noise) amplitude-modulated at ``rate_sps`` syllables/s.

    The envelope is a raised cosine in dB (``depth_db`` between the syllable peaks and the
    troughs), starting and ending in a trough, so the signal holds ``rate_sps * dur_s`` nuclei.
    """
    t = np.arange(int(dur_s * sr)) / sr
    if noise:
        x = np.random.default_rng(seed).standard_normal(t.shape[0])
    else:
        x = sum(np.sin(2 * np.pi * f0_hz * h * t) / h for h in range(1, 15))
    x = x / np.max(np.abs(x))
    env_db = -depth_db * 0.5 * (1.0 + np.cos(2 * np.pi * rate_sps * t))
    return (0.3 * x * 10.0 ** (env_db / 20.0)).astype(np.float32)

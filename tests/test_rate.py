"""Tests of the speech-rate kernels (``native/nuclei.py``) and ``engine/rate.py``."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from prosync.engine.config import HOP, RateConfig
from prosync.engine.errors import ProsyncError
from prosync.engine.rate import DEFAULT_DIP_DB, RateTracker, articulation_rate
from prosync.native.frames import frame_energy_db
from prosync.native.nuclei import (
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
from tests.ref_rate import ref_nuclei, ref_running_rate, ref_smooth_intensity, synth_syllables


def random_splits(rng, n, max_calls=8):
    """Random call boundaries 0 = b0 < ... < n (some calls of one frame)."""
    k = int(rng.integers(1, max_calls + 1))
    cuts = np.sort(rng.choice(np.arange(1, n), size=min(k - 1, n - 1), replace=False))
    return [0, *cuts.tolist(), n]


def random_contour(rng, n):
    """A mean-reverting random walk in dB with dropouts: peaks and dips of all sizes."""
    steps = rng.normal(0.0, rng.uniform(0.3, 3.0), n)
    x = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc = 0.9 * acc + steps[i]
        x[i] = -40.0 + acc
    x[rng.random(n) < 0.02] -= 30.0
    return x.astype(np.float32)


def run_smooth(x, weights, bounds):
    w = np.asarray(weights, float)
    hist = np.full(len(w), POWER_FLOOR)
    pos = np.zeros(1, np.int64)
    out = np.zeros(len(x), np.float32)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        smooth_intensity(x[a:b], b - a, w, hist, pos, out[a:b])
    return out


def make_params(rise, fall, silence, decay, floor, delay, reach, close):
    p = np.zeros(N_PARAMS)
    p[P_RISE_DB], p[P_FALL_DB], p[P_SILENCE_DB] = rise, fall, silence
    p[P_DECAY_DB], p[P_LEVEL_FLOOR], p[P_DELAY], p[P_VOICE_REACH] = decay, floor, delay, reach
    p[P_CLOSE] = close
    return p


def run_nuclei(c, v, params, bounds):
    fs = np.full(N_FSTATE, np.nan)
    st = np.zeros(N_ISTATE, np.int64)
    st[I_AGE] = -1
    st[I_SINCE] = 10**9
    out = np.zeros(len(c), np.int64)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        nuclei_online(c[a:b], v[a:b], b - a, params, fs, st, out[a:b])
    return out


# ---------------------------------------------------------------- kernels against references


@pytest.mark.parametrize("seed", range(6))
def test_smooth_intensity_matches_reference_in_any_split(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 300))
    x = random_contour(rng, n)
    x[rng.random(n) < 0.05] = np.nan
    x[rng.random(n) < 0.02] = -np.inf
    x[rng.random(n) < 0.02] = np.inf
    w = rng.uniform(0.1, 1.0, int(rng.integers(1, 8)))
    w /= w.sum()
    ref = ref_smooth_intensity(x, w)
    one = run_smooth(x, w, [0, n])
    np.testing.assert_allclose(one, ref, rtol=0, atol=1e-4)
    for _ in range(3):
        np.testing.assert_array_equal(run_smooth(x, w, random_splits(rng, n)), one)


@pytest.mark.parametrize("seed", range(12))
def test_nuclei_online_matches_reference_in_any_split(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(3, 400))
    c = random_contour(rng, n)
    c[rng.random(n) < 0.02] = np.nan
    v = rng.random(n) < rng.uniform(0.2, 0.9)
    fall = float(rng.choice([0.5, 1.0, 2.0, 4.0]))
    args = dict(
        rise=fall * float(rng.choice([0.0, 0.5, 1.0])), fall=fall,
        silence=float(rng.choice([10.0, 25.0])), decay=float(rng.choice([0.0, 0.005, 0.1])),
        level_floor=float(rng.choice([-80.0, -45.0])), delay=int(rng.integers(0, 4)),
        reach=int(rng.integers(0, 4)), close=int(rng.choice([0, 6, 20, 10**6])),
    )
    params = make_params(*args.values())
    ref = ref_nuclei(c, v, **args)
    one = run_nuclei(c, v, params, [0, n])
    np.testing.assert_array_equal(one, ref)
    for _ in range(3):
        np.testing.assert_array_equal(run_nuclei(c, v, params, random_splits(rng, n)), one)


def test_nuclei_reference_finds_nuclei_in_random_inputs():
    """Guard against a vacuous comparison: the random cases do contain accepted nuclei."""
    rng = np.random.default_rng(7)
    c = random_contour(rng, 400)
    ages = ref_nuclei(c, np.ones(400, bool), 0.5, 1.0, 25.0, 0.005, -80.0, 2, 2, 6)
    assert np.count_nonzero(ages >= 0) > 40


@pytest.mark.parametrize("seed", range(8))
def test_running_rate_matches_reference_in_any_split(seed):
    rng = np.random.default_rng(200 + seed)
    n = int(rng.integers(2, 700))
    win = int(rng.integers(1, 120))
    min_speech = int(rng.integers(1, win + 1))
    k0 = int(rng.integers(0, 10**6))
    ages = np.full(n, -1, np.int64)
    # nuclei at least 2 frames apart, confirmed in their order (as nuclei_online does) after a
    # random age (some too late to count)
    frames = np.cumsum(rng.integers(2, 30, n))
    frames = frames[frames < n]
    last = -1
    for f in frames:
        conf = max(f + int(rng.integers(0, 12 if seed % 2 else 160)), last + 1)
        if conf < n:
            ages[conf] = conf - f
            last = conf
    # speech in runs with pauses of all lengths
    speech = np.repeat(rng.random(n) < 0.6, rng.integers(1, 40, n))[:n]
    if len(speech) < n:
        speech = np.concatenate([speech, np.ones(n - len(speech), bool)])
    ref = ref_running_rate(k0, ages, speech, win, min_speech)
    for bounds in ([0, n], random_splits(rng, n), random_splits(rng, n)):
        ring = np.zeros(win + 1, np.int64)
        head = np.zeros(3, np.int64)
        hist = np.zeros(SPEECH_HIST, np.int64)
        out = np.zeros(n, np.float32)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            running_rate(k0 + a, b - a, ages[a:b], speech[a:b], ring, head, hist, win,
                         min_speech, out[a:b])
        np.testing.assert_allclose(out, ref, rtol=1e-6)


def test_pause_does_not_restart_the_rate():
    """4 syllables/s, 3.5 s of silence, 4 syllables/s again: the second utterance starts at the
    speaker's running rate (a wall-clock 3 s window gave 0 there and climbed), and the rate is
    NaN before 1 s of speech."""
    e1 = frames_of(synth_syllables(4.0, dur_s=2.5))
    gap = np.full(350, -120.0, np.float32)
    e = np.concatenate([e1, gap, e1])
    speech = np.concatenate([np.ones(len(e1), bool), np.zeros(350, bool), np.ones(len(e1), bool)])
    _, rate = run_tracker(e, np.ones(len(e), bool), [0, len(e)], speech=speech)
    assert np.isnan(rate[:99]).all() and np.isfinite(rate[99:]).all()
    onset = len(e1) + 350
    assert np.all(np.abs(rate[onset:onset + 50] - 4.0) < 0.7)
    assert np.all(np.abs(rate[len(e1) + 10:onset] - 4.0) < 0.7)  # the pause keeps the last rate


def run_tracker(e, v, bounds, cfg=None, speech=None, **kw):
    rt = RateTracker(cfg or RateConfig(), **kw)
    n = len(e)
    sp = np.ones(n, bool) if speech is None else speech
    age = np.zeros(n, np.int64)
    rate = np.zeros(n, np.float32)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        rt.process(a, b - a, e[a:b], v[a:b], sp[a:b], age[a:b], rate[a:b])
    return age, rate


@pytest.mark.parametrize("seed", range(4))
def test_rate_tracker_is_the_composition_of_references_in_any_split(seed):
    rng = np.random.default_rng(300 + seed)
    n = int(rng.integers(50, 800))
    e = random_contour(rng, n)
    v = rng.random(n) < 0.6
    sp = rng.random(n) < 0.8
    age, rate = run_tracker(e, v, [0, n], speech=sp)
    rt = RateTracker(RateConfig())
    p = rt.params
    w = np.asarray(rt._weights)
    c = ref_smooth_intensity(e, w).astype(np.float32)
    ref_age = ref_nuclei(c, v, p[P_RISE_DB], p[P_FALL_DB], p[P_SILENCE_DB], p[P_DECAY_DB],
                         p[P_LEVEL_FLOOR], int(p[P_DELAY]), int(p[P_VOICE_REACH]),
                         int(p[P_CLOSE]))
    np.testing.assert_array_equal(age, ref_age)
    np.testing.assert_allclose(rate, ref_running_rate(0, ref_age, sp, 300, 100), rtol=1e-6)
    for _ in range(3):
        a2, r2 = run_tracker(e, v, random_splits(rng, n, 20), speech=sp)
        np.testing.assert_array_equal(a2, age)
        np.testing.assert_array_equal(r2, rate)


def test_rate_tracker_survives_nan_and_inf():
    """Broken frames (NaN, +-inf) count as silence and do not stop later nuclei."""
    e = frames_of(synth_syllables(4.0, dur_s=3.0))
    e[3] = np.inf
    e[40] = np.nan
    e[41] = -np.inf
    age, rate = run_tracker(e, np.ones(len(e), bool), [0, 100, len(e)])
    assert np.all(np.isfinite(rate[99:]))
    k = np.flatnonzero(age >= 0)
    assert np.count_nonzero(k - age[k] > 60) >= 9


# ---------------------------------------------------------------- known answers


def frames_of(x):
    """25 ms frame energy at a 10 ms hop, frame k centred on sample k*HOP + HOP//2."""
    pad = np.zeros(400, np.float32)
    xx = np.concatenate([pad, x, pad])
    n = len(x) // HOP
    out = np.zeros(n, np.float32)
    frame_energy_db(xx, 400 + HOP // 2, n, HOP, 400, out)
    return out


@pytest.mark.parametrize("rate_sps", [2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
def test_am_vowel_at_known_syllable_rate(rate_sps):
    dur = 4.0
    e = frames_of(synth_syllables(rate_sps, dur_s=dur))
    age, rate = run_tracker(e, np.ones(len(e), bool), [0, len(e)])
    k = np.flatnonzero(age >= 0)
    t = (k - age[k] + 0.5) * 0.01
    assert len(t) == round(rate_sps * dur)
    # the nuclei sit on the envelope peaks, (j + 0.5) / rate
    peaks = (np.arange(len(t)) + 0.5) / rate_sps
    np.testing.assert_allclose(t, peaks, atol=0.025)
    # steady state over the 3 s window: rate_sps within one syllable per window
    assert abs(rate[-20] - rate_sps) <= 1 / 3 + 1e-6


def test_am_vowel_shallow_dips_below_min_dip_are_one_nucleus():
    """Modulation of 0.5 dB (below the 1 dB dip) leaves a single nucleus at most."""
    e = frames_of(synth_syllables(4.0, dur_s=3.0, depth_db=0.5))
    e[:20] = -120.0
    e[-20:] = -120.0
    age, _ = run_tracker(e, np.ones(len(e), bool), [0, len(e)])
    assert np.count_nonzero(age >= 0) <= 1


def test_unvoiced_noise_bursts_are_not_nuclei():
    e = frames_of(synth_syllables(4.0, noise=True))
    age, rate = run_tracker(e, np.zeros(len(e), bool), [0, len(e)])
    assert np.count_nonzero(age >= 0) == 0
    assert np.all(rate[99:] == 0)


def test_voicing_within_reach_is_enough():
    """Voicing found 2 frames off the peak still counts (VOICE_REACH = 2), 4 frames off not."""
    e = frames_of(synth_syllables(4.0, dur_s=3.0))
    k_peak = np.round((np.arange(12) + 0.5) / 4.0 / 0.01 - 0.5).astype(int)
    n_found = []
    for off in (2, 4):
        v = np.zeros(len(e), bool)
        v[np.clip(k_peak + off, 0, len(e) - 1)] = True
        age, _ = run_tracker(e, v, [0, len(e)])
        n_found.append(np.count_nonzero(age >= 0))
    assert n_found[0] == 12
    assert n_found[1] == 0


def test_silence_threshold_relative_to_speaker_level():
    """Syllables 30 dB below the speaker's loud ones are silence (silence_db = 25)."""
    e = frames_of(synth_syllables(4.0, dur_s=2.0))
    quiet = e - 30.0
    both = np.concatenate([e, quiet])
    age, _ = run_tracker(both, np.ones(len(both), bool), [0, len(both)])
    k = np.flatnonzero(age >= 0)
    f = k - age[k]
    assert np.count_nonzero(f < len(e)) == 8
    assert np.count_nonzero(f >= len(e)) == 0
    # with a wider silence range they count
    age, _ = run_tracker(both, np.ones(len(both), bool), [0, len(both)],
                         cfg=RateConfig(silence_db=40.0))
    assert np.count_nonzero(age >= 0) == 16


def test_session_counts_am_vowel_syllables():
    """The whole pipeline (framing, pitch voicing, rate) on a 4 syllables/s AM vowel."""
    import prosync

    x = synth_syllables(4.0, dur_s=3.0)
    s = prosync.Session(speakers=("a",), sample_rate=16000)
    ups = [s.push("a", x[i:i + 1234]) for i in range(0, len(x), 1234)]
    ups.append(s.close())
    age = np.concatenate([u.frames["a"]["nucleus_age"] for u in ups if "a" in u.frames])
    assert abs(np.count_nonzero(age >= 0) - 12) <= 1


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize("bad", [dict(window_s=0.0), dict(min_dip_db=0.0),
                                 dict(silence_db=-5.0), dict(min_dip_db=float("nan"))])
def test_bad_rate_config_is_one_clear_error(bad):
    name = next(iter(bad))
    with pytest.raises(ProsyncError, match=name):
        RateTracker(RateConfig(**bad))


def test_default_dip_maps_to_the_tuned_dip_and_others_are_kept():
    assert RateTracker(RateConfig()).params[P_FALL_DB] == DEFAULT_DIP_DB
    assert RateTracker(RateConfig(min_dip_db=3.0)).params[P_FALL_DB] == 3.0


# ---------------------------------------------------------------- articulation rate


def test_articulation_rate():
    frames = np.array([10, 30, 50, 70, 150])
    # IPU 0.0-1.0 s holds frames 10..70 (t = 0.105 .. 0.705 s)
    assert articulation_rate(frames, 0.0, 1.0) == pytest.approx(4.0)
    assert articulation_rate(frames, 0.0, 0.5) == pytest.approx(2 / 0.5)
    assert articulation_rate(frames, 1.0, 2.0) == pytest.approx(1.0)
    assert articulation_rate(np.array([], dtype=np.int64), 0.0, 1.0) == 0.0
    assert np.isnan(articulation_rate(frames, 1.0, 1.0))


# ---------------------------------------------------------------- real speech (shared data)


@pytest.mark.shared
def test_fda_counts_track_transcripts(shared_data):
    """On 10 FDA sentences, counts are within 35 % of the transcripts and correlate."""
    import soundfile as sf

    import prosync

    rows = list(csv.DictReader(open(shared_data / "reference/speech_rate/fda.csv")))
    rows = rows[::10]
    got, want = [], []
    for r in rows:
        x, sr = sf.read(shared_data / "fda_ue_pitch" / f"{r['segment_id']}.wav", dtype="float32")
        s = prosync.Session(speakers=("a",), sample_rate=sr)
        ups = [s.push("a", x), s.close()]
        age = np.concatenate([u.frames["a"]["nucleus_age"] for u in ups if "a" in u.frames])
        got.append(np.count_nonzero(age >= 0))
        want.append(int(r["transcript_syllables"]))
    assert 0.65 < sum(got) / sum(want) < 1.35
    assert np.corrcoef(got, want)[0, 1] > 0.7

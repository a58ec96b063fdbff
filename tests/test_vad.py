"""VAD kernels against slow pure-Python references, plus known-answer cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prosync.native.vad import ABS_FLOOR_DB, LEVEL_REF_DB, remove_bleed, vad_combine

# ----------------------------------------------------------------------------- slow references


def vad_combine_ref(energy_db, webrtc, state, margin_db, rise_db, hang_frames,
                    rel_db=1000.0, level_fall_db=0.0):
    """Obviously correct frame loop: returns (speech list, new state)."""
    floor, hang, level = state[0], state[1], state[2] + LEVEL_REF_DB
    out = []
    for e, w in zip(energy_db, webrtc, strict=True):
        e = float(e)
        floor = e if (math.isnan(floor) or e < floor) else floor + rise_db
        if level > LEVEL_REF_DB:
            level = max(LEVEL_REF_DB, level - level_fall_db)
        raw = bool(w) and e > floor + margin_db and e > ABS_FLOOR_DB
        if raw:
            level = max(level, e)
        if raw and e > level - rel_db:
            hang = hang_frames
            out.append(True)
        elif hang > 0:
            hang -= 1
            out.append(True)
        else:
            out.append(False)
    return out, [floor, hang, level - LEVEL_REF_DB]


def remove_bleed_ref(ea, sa, eb, sb, bleed_db):
    sa, sb = list(sa), list(sb)
    for i in range(len(sa)):
        if sa[i] and sb[i]:
            if ea[i] < eb[i] - bleed_db:
                sa[i] = False
            elif eb[i] < ea[i] - bleed_db:
                sb[i] = False
    return sa, sb


def _random_energy(rng, n):
    """Noise around -70 dB with bursts of speech around -25 dB."""
    e = rng.normal(-70, 3, n)
    on = np.zeros(n, bool)
    k = 0
    while k < n:
        length = int(rng.integers(5, 80))
        on[k:k + length] = rng.random() < 0.5
        k += length
    e[on] = rng.normal(-25, 8, on.sum())
    return e.astype(np.float32), on


# ----------------------------------------------------------------------------- kernel vs reference


@pytest.mark.parametrize("seed", range(8))
def test_vad_combine_matches_reference_across_splits(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 2000))
    e, on = _random_energy(rng, n)
    web = on ^ (rng.random(n) < 0.1)
    margin = float(rng.choice([3.0, 9.0, 15.0]))
    rise = float(rng.choice([0.0, 0.005, 0.02, 0.5]))
    hang = int(rng.integers(0, 20))
    rel, fall = [(1000.0, 0.0), (30.0, 0.01), (20.0, 0.0), (35.0, 0.5)][seed % 4]
    want, want_state = vad_combine_ref(e, web, [math.nan, 0.0, 0.0], margin, rise, hang, rel, fall)
    # kernel, in random chunks carrying the state
    state = np.array([np.nan, 0.0, 0.0])
    got = np.zeros(n, bool)
    cuts = [0, *sorted(rng.choice(np.arange(1, n), size=5, replace=False)), n]
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        out = np.zeros(b - a + 3, bool)  # longer than n: only the first n are written
        vad_combine(e[a:b], web[a:b], b - a, state, margin, rise, hang, out, rel, fall)
        got[a:b] = out[:b - a]
    assert got.tolist() == want
    np.testing.assert_allclose(state, want_state, rtol=0, atol=1e-9)


def test_vad_combine_default_args_equal_gate_off():
    rng = np.random.default_rng(11)
    e, on = _random_energy(rng, 500)
    a = np.zeros(500, bool)
    b = np.zeros(500, bool)
    vad_combine(e, on, 500, np.array([np.nan, 0.0, 0.0]), 9.0, 0.02, 8, a)
    vad_combine(e, on, 500, np.array([np.nan, 0.0, 0.0]), 9.0, 0.02, 8, b, 1000.0, 0.0)
    assert (a == b).all()


@pytest.mark.parametrize("seed", range(6))
def test_remove_bleed_matches_reference(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 1000))
    ea = rng.normal(-40, 20, n).astype(np.float32)
    eb = rng.normal(-40, 20, n).astype(np.float32)
    sa = rng.random(n) < 0.6
    sb = rng.random(n) < 0.6
    bleed = float(rng.choice([0.0, 6.0, 15.0]))
    want_a, want_b = remove_bleed_ref(ea, sa, eb, sb, bleed)
    remove_bleed(ea, sa, eb, sb, n, bleed)
    assert sa.tolist() == want_a
    assert sb.tolist() == want_b


# ----------------------------------------------------------------------------- known answers


def _run(e, web, margin=9.0, rise=0.02, hang=0, **kw):
    e = np.asarray(e, np.float32)
    web = np.asarray(web, bool)
    out = np.zeros(e.shape[0], bool)
    state = np.array([np.nan, 0.0, 0.0])
    vad_combine(e, web, e.shape[0], state, margin, rise, hang, out, *kw.values())
    return out, state


def test_burst_over_noise_with_hangover():
    e = [-70.0] * 10 + [-30.0] * 5 + [-70.0] * 10
    out, state = _run(e, [True] * 25, hang=3)
    assert out.tolist() == [False] * 10 + [True] * 8 + [False] * 7
    assert state[0] == pytest.approx(-70.0, abs=0.021)  # min tracking within one rise step
    assert state[1] == 0
    assert state[2] + LEVEL_REF_DB == pytest.approx(-30.0)


def test_both_webrtc_and_energy_needed():
    e = [-70.0] * 5 + [-30.0] * 5 + [-70.0] * 5
    web = [False] * 7 + [True] * 8  # webrtc late; energy gone when webrtc lingers
    out, _ = _run(e, web)
    assert out.tolist() == [False] * 7 + [True] * 3 + [False] * 5


def test_margin_and_absolute_floor():
    # 8 dB over the floor is not enough with a 9 dB margin
    out, _ = _run([-70.0] * 5 + [-62.0] * 5, [True] * 10)
    assert not out.any()
    # digital near-silence: above the floor by the margin but under ABS_FLOOR_DB
    out, _ = _run([-110.0] * 5 + [-80.0] * 5, [True] * 10)
    assert not out.any()


def test_floor_rises_slowly_so_long_speech_stays_speech():
    # noise at -70 then 300 frames at -40: the floor rises 0.02 dB/frame (6 dB): still speech
    out, state = _run([-70.0] * 10 + [-40.0] * 300, [True] * 310)
    assert out[10:].all()
    assert state[0] == pytest.approx(-70.0 + 301 * 0.02, abs=1e-6)


def test_relative_gate_rejects_quiet_sounds_after_loud_speech():
    e = [-70.0] * 5 + [-10.0] * 5 + [-70.0] * 5 + [-50.0] * 5
    out, _ = _run(e, [True] * 20, rise=0.0, rel_db=30.0, fall=0.0)
    assert out.tolist() == [False] * 5 + [True] * 5 + [False] * 10
    out, _ = _run(e, [True] * 20, rise=0.0)  # gate off: the quiet sound is speech
    assert out[15:].all()


def test_remove_bleed_known_answer():
    ea = np.array([-20.0, -20.0, -40.0, -20.0], np.float32)
    eb = np.array([-40.0, -30.0, -20.0, -50.0], np.float32)
    sa = np.array([True, True, True, False])
    sb = np.array([True, True, True, True])
    remove_bleed(ea, sa, eb, sb, 4, 15.0)
    assert sa.tolist() == [True, True, False, False]
    assert sb.tolist() == [False, True, True, True]


def apply_hangover_ref(raw, hang_frames, hang=0):
    out = []
    for r in raw:
        if r:
            hang = hang_frames
            out.append(True)
        elif hang > 0:
            hang -= 1
            out.append(True)
        else:
            out.append(False)
    return np.array(out, bool), hang


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_apply_hangover_matches_reference_across_splits(seed):
    from prosync.native.vad import apply_hangover

    rng = np.random.default_rng(seed)
    raw = rng.random(400) < 0.3
    want, _ = apply_hangover_ref(raw, 5)
    out = np.zeros(400, bool)
    state = np.zeros(1)
    cuts = np.sort(rng.choice(np.arange(1, 400), 9, replace=False))
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, 400]):
        apply_hangover(raw[a:b], b - a, state, 5, out[a:b])
    np.testing.assert_array_equal(out, want)

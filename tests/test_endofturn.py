"""Known-answer tests of engine/endofturn.py (EndOfTurnTracker) on constructed frames."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import lognorm

from prosync.calibration.baseline import SpeakerBaseline
from prosync.engine.config import HOP_S, Config, EndOfTurnConfig
from prosync.engine.endofturn import EOT_DTYPE, EndOfTurnTracker
from prosync.engine.speaker import FRAME_DTYPE


def _frames(pattern, f0_end_st=0.0, level_db=-20.0, end_db=-20.0):
    """Frames from a list of (seconds, speaking) runs; speech is voiced at 200 Hz with the last
    250 ms of each speech run gliding by ``f0_end_st`` semitones and at ``end_db``."""
    n = sum(int(round(s / HOP_S)) for s, _ in pattern)
    f = np.zeros(n, FRAME_DTYPE)
    f["t_s"] = (np.arange(n) + 0.5) * HOP_S
    f["f0_hz"] = np.nan
    f["energy_db"] = -90.0
    k = 0
    for s, sp in pattern:
        m = int(round(s / HOP_S))
        if sp:
            st = np.zeros(m)
            st[-25:] = np.linspace(0.0, f0_end_st, 25)
            f["f0_hz"][k:k + m] = 200.0 * 2 ** (st / 12)
            f["voiced"][k:k + m] = True
            f["speech_raw"][k:k + m] = True
            f["speech"][k:k + m] = True
            f["energy_db"][k:k + m] = level_db
            f["energy_db"][k + m - 20:k + m] = end_db
            f["rate_sps"][k:k + m] = 4.0
        k += m
    return f


def _baseline():
    b = SpeakerBaseline()
    b.add_frames(_frames([(6.0, True)]))  # 6 s of speech at 200 Hz, -20 dB: settled
    return b


def _run(frames, cfg=None, block=None, other=None):
    cfg = cfg or EndOfTurnConfig(bias=-1.5, cue_weight=0.5)
    tr = EndOfTurnTracker(cfg, _baseline(), 0.18)
    rows, events = [], []
    n = len(frames)
    step = block or n
    for i in range(0, n, step):
        o = None if other is None else other[i:i + step]
        r, e = tr.update(frames[i:i + step], o, len(frames[i:i + step]))
        rows.append(r)
        events.extend(e)
    return np.concatenate(rows), events, tr


def test_rows_only_while_silent_after_speech_and_probability_rises():
    f = _frames([(0.5, False), (2.0, True), (2.0, False)])
    rows, events, _ = _run(f)
    assert rows.dtype == EOT_DTYPE
    # no rows before the first speech; one per silent frame up to the horizon afterwards
    assert rows.shape[0] == 200
    assert rows["t_s"][0] == pytest.approx(2.505)
    assert rows["silence_s"][0] == pytest.approx(0.01)
    p = rows["turn_end_prob"]
    assert np.all(np.diff(p) >= 0) and p[-1] > 0.8 and p[0] < 0.5
    (ev,) = events
    j = int(np.flatnonzero(p >= 0.5)[0])
    assert ev.t_s == pytest.approx(rows["t_s"][j]) and ev.latency_s == pytest.approx((j + 1) * 0.01)
    assert ev.speech_end_s == pytest.approx(2.5) and ev.ipu_s == pytest.approx(2.0)


def test_the_row_at_the_crossing_holds_the_events_probability():
    # end_of_turn.turn_end_prob and turn_end.turn_end_prob are one quantity: the same value at
    # the crossing and one dtype in both tables (was float32 in the rows, float64 in the event)
    from prosync.streams.arrow import arrow_schema

    cfg = EndOfTurnConfig(bias=-1.5, cue_weight=0.5, threshold=0.55)
    rows, (ev,), _ = _run(_frames([(0.5, False), (2.0, True), (2.0, False)]), cfg)
    (j,) = np.flatnonzero(rows["t_s"] == ev.t_s)
    assert rows["turn_end_prob"][j] == ev.turn_end_prob >= cfg.threshold
    assert arrow_schema("end_of_turn").field("turn_end_prob").type == \
        arrow_schema("turn_end").field("turn_end_prob").type


def test_probability_is_the_hazard_of_the_lognormal_pause():
    cfg = EndOfTurnConfig(bias=0.3, cue_weight=0.0)
    rows, events, tr = _run(_frames([(1.0, True), (3.0, False)]), cfg)
    t = rows["silence_s"].astype(float)
    s = lognorm.sf(t, cfg.pause_sigma, scale=cfg.prior_pause_s)
    expect = 1.0 / (1.0 + np.exp(-(0.3 - np.log(s))))
    np.testing.assert_allclose(rows["turn_end_prob"], expect, rtol=1e-5)
    assert events[0].prior == pytest.approx(1 / (1 + math.exp(-0.3)))


@pytest.mark.parametrize("block", [1, 7, 64, 333])
def test_block_sizes_do_not_change_anything(block):
    f = _frames([(0.3, False), (1.5, True), (0.4, False), (0.8, True), (2.5, False), (1.0, True),
                 (1.0, False)], f0_end_st=-4.0)
    ref_rows, ref_ev, _ = _run(f)
    rows, ev, _ = _run(f, block=block)
    np.testing.assert_array_equal(rows, ref_rows)
    assert ev == ref_ev


@pytest.mark.parametrize("block", [1, 3, 250])
def test_cues_measured_a_push_later_are_the_cues_of_the_end_of_speech(block):
    """With ``cue_weight`` 0 the cues are measured on the push after the end of speech (or at
    the event): the same rows, events and cue values as measuring them at once (what the
    tracker does when it keeps a log)."""
    cfg = EndOfTurnConfig(bias=-1.5, cue_weight=0.0)
    f = _frames([(0.3, False), (1.5, True), (0.4, False), (0.8, True), (0.05, False),
                 (0.6, True), (2.5, False), (1.0, True), (1.2, False), (0.7, True), (3.0, False)],
                f0_end_st=-4.0)
    other = np.zeros(len(f), FRAME_DTYPE)
    other["speech_raw"][int(2.9 / HOP_S):int(3.3 / HOP_S)] = True
    got, ev_got, tr = _run(f, cfg, block=block, other=other)
    assert tr._cue_args is not None or tr._cues is not None
    eager = EndOfTurnTracker(cfg, _baseline(), 0.18)
    eager.log = []  # a log needs the cues at once
    rows, ev = [], []
    for i in range(0, len(f), block):
        r, e = eager.update(f[i:i + block], other[i:i + block], len(f[i:i + block]))
        rows.append(r)
        ev.extend(e)
    np.testing.assert_array_equal(got, np.concatenate(rows))
    assert ev_got == ev and len(ev) >= 2
    assert all(e.cues != (0.0,) * 7 for e in ev)
    assert [c for _, c, *_ in eager.log][-1] == tr._measured_cues()


def test_users_own_pauses_calibrate_the_wait():
    cfg = EndOfTurnConfig(bias=-1.5, cue_weight=0.0)
    # a user who pauses 1.2 s inside their turns, again and again
    pattern = [(1.0, True), (1.2, False)] * 8 + [(1.0, True), (3.0, False)]
    _, events, tr = _run(_frames(pattern), cfg)
    # the prior 0.5 s (5 pseudo-pauses) moved towards their 1.2 s pauses: exp of the mean log
    assert tr.pause_median_s == pytest.approx(math.exp((5 * math.log(0.5) + 8 * math.log(1.2)) / 13))
    _, ev0, _ = _run(_frames([(1.0, True), (3.0, False)]), cfg)
    assert ev0[0].latency_s > 0.3
    assert events[-1].latency_s > ev0[0].latency_s + 0.3


def _exchanges(other_from_s: float, other_to_s: float):
    """8 exchanges (user 1 s, silence 1.5 s with the other talking from ``other_from_s`` to
    ``other_to_s`` into it), then a last user IPU and 3 s of silence: (user, other) frames."""
    f = _frames([(1.0, True), (1.5, False)] * 8 + [(1.0, True), (3.0, False)])
    other = np.zeros(len(f), FRAME_DTYPE)
    for i in range(8):
        k = int(round((i * 2.5 + 1.0 + other_from_s) / HOP_S))
        other["speech_raw"][k:k + int(round((other_to_s - other_from_s) / HOP_S))] = True
    return f, other


def test_users_hand_overs_make_turn_ends_likelier_and_barge_ins_count_for_nothing():
    cfg = EndOfTurnConfig(bias=-1.5, cue_weight=0.0)
    _, (alone,), _ = _run(_frames([(1.0, True), (3.0, False)]), cfg)
    # the other takes each silence and stops before the user speaks again: hand-overs
    f, other = _exchanges(0.3, 1.2)
    _, events, tr = _run(f, cfg, other=other)
    assert (tr._n_end, tr._n_pause) == (8, 0)
    assert tr.end_log_odds == pytest.approx(math.log(12 / 4))
    assert events[-1].prior > alone.prior and events[-1].latency_s < alone.latency_s - 0.1
    # the other is still talking when the user speaks again: ambiguous, counted as neither
    f, other = _exchanges(1.0, 1.8)
    _, events, tr = _run(f, cfg, other=other)
    assert (tr._n_end, tr._n_pause) == (0, 0)
    assert events[-1].latency_s == pytest.approx(alone.latency_s)
    # the user's own pauses (nobody else talking) make turn ends less likely
    _, events, tr = _run(_exchanges(0.0, 0.0)[0], cfg)
    assert tr._n_pause == 8 and tr.end_log_odds == pytest.approx(math.log(4 / 12))


def test_turn_yielding_cues_make_it_fire_earlier():
    cfg = EndOfTurnConfig(cue_weight=1.0)
    flat = _frames([(3.0, True), (3.0, False)])
    fall = _frames([(3.0, True), (3.0, False)], f0_end_st=-6.0, end_db=-30.0)
    _, (e_flat,), _ = _run(flat, cfg)
    _, (e_fall,), _ = _run(fall, cfg)
    assert e_fall.cues[0] == 1.0 and e_flat.cues[0] == 0.0       # final fall vs plateau
    assert e_fall.cues[1] > 0.5                                     # low end
    assert e_fall.cues[2] == pytest.approx(10 / 12) and e_flat.cues[2] == 0.0  # a 10 dB decay
    assert e_fall.prior > e_flat.prior and e_fall.latency_s < e_flat.latency_s


def _ring(f0_st, voiced, energy_db, speech=None):
    """The tracker's view of an IPU's last frames (as ``EndOfTurnTracker._recent`` builds it)."""
    n = len(f0_st)
    vo = np.asarray(voiced, bool)
    return {"f0": np.where(vo, 200.0 * 2 ** (np.asarray(f0_st, float) / 12), np.nan),
            "en": np.asarray(energy_db, float), "vo": vo,
            "sp": np.ones(n, bool) if speech is None else np.asarray(speech, bool),
            "ot": np.zeros(n, bool)}


def test_cue_measures_read_the_last_300_ms_of_speech_and_the_ipus_own_level():
    """Known answers of the raw measures (the audit's fixes): the final F0 movement comes only
    from the last 300 ms of voicing (a high stretch 0.2 s before it does not count), the level
    is re the speaker's median, the decay is re the IPU's preceding 800 ms."""
    from prosync.engine.turn_cues import cue_measures

    snap = _baseline().snapshot()                 # 200 Hz median, settled
    st = np.zeros(100)
    st[40:50] = 8.0                               # a high stretch 0.5 s before the end
    st[75:90] = np.linspace(0.0, -3.0, 15)        # the final fall, then 100 ms unvoiced
    voiced = np.ones(100, bool)
    voiced[50:75] = False
    voiced[90:] = False
    en = np.full(100, -20.0)
    en[80:] = -26.0
    level, move, drop, unv, syll, ipu, other = cue_measures(_ring(st, voiced, en), snap, 1.0)
    assert move == pytest.approx(np.median(st[85:90]) - np.median(st[75:80]))
    assert level == pytest.approx(np.median(st[85:90]), abs=0.05)
    assert drop == pytest.approx(-6.0) and unv == pytest.approx(0.5)
    assert syll == pytest.approx(0.15 * snap.rate_sps) and ipu == 1.0 and other == 0.0
    # voicing that ended over 500 ms before the end of speech: no pitch measure
    voiced[75:] = False
    level, move, *_ = cue_measures(_ring(st, voiced, en), snap, 1.0)
    assert math.isnan(level) and math.isnan(move)


def test_cue_scales_fall_back_to_population_values_while_the_baseline_warms_up():
    from prosync.engine.turn_cues import POP_RANGE_ST, POP_RATE_SPS, speaker_scales

    b = SpeakerBaseline()
    b.add_frames(_frames([(0.3, True)]))          # a fraction of a second: warming up
    assert b.snapshot().warming_up
    assert speaker_scales(b.snapshot()) == (POP_RANGE_ST, POP_RATE_SPS)
    rng, rate = speaker_scales(_baseline().snapshot())  # a flat 200 Hz voice: range held >= 4
    assert rng == 4.0 and rate == pytest.approx(4.0, abs=0.5)


def test_other_talking_during_the_users_speech_is_a_hold_cue():
    f = _frames([(2.0, True), (3.0, False)])
    other = np.zeros(len(f), FRAME_DTYPE)
    other["speech_raw"][150:190] = True   # a backchannel in the last second of the user's IPU
    cfg = EndOfTurnConfig(bias=-1.0, cue_weight=1.0)
    _, (alone,), _ = _run(f, cfg)
    _, (bc,), _ = _run(f, cfg, other=other)
    assert alone.cues[6] == 1.0 and bc.cues[6] == pytest.approx(0.6)
    assert bc.prior < alone.prior


def test_short_gaps_are_bridged_into_one_ipu():
    f = _frames([(1.0, True), (0.1, False), (1.0, True), (2.5, False)])
    _, events, tr = _run(f, replace(EndOfTurnConfig(), threshold=0.2))
    assert events[-1].ipu_s == pytest.approx(2.1)
    assert tr._n_pause == 0   # a 100 ms gap is not a pause


def test_a_fragment_holds_the_probability_until_the_wait_then_follows_the_hazard():
    """An IPU shorter than ``fragment_s``: 0 until the silence reaches ``fragment_wait_s``,
    then the same probability as without the gate; a longer IPU is not gated."""
    cfg = EndOfTurnConfig(bias=-1.5, cue_weight=0.0, fragment_s=0.3, fragment_wait_s=1.2)
    off = replace(cfg, fragment_s=0.0)
    for ipu_s, gated in ((0.25, True), (0.5, False)):
        f = _frames([(ipu_s, True), (3.0, False)])
        ref, ref_ev, _ = _run(f, off)
        rows, ev, _ = _run(f, cfg)
        t = rows["silence_s"]
        wait = t < 1.2 - 1e-6 if gated else np.zeros(t.shape, bool)
        assert np.all(rows["turn_end_prob"][wait] == 0.0)
        np.testing.assert_array_equal(rows["turn_end_prob"][~wait], ref["turn_end_prob"][~wait])
        (e,), (r,) = ev, ref_ev
        assert e.latency_s == (pytest.approx(max(r.latency_s, 1.2)) if gated else r.latency_s)


def test_the_benchs_replay_is_the_trackers_probability():
    """bench_end_of_turn.silence_curves recomputes each silence's curve from the tracker's log
    (its parameter searches rely on it): the same values as the tracker's rows, gate included."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from bench_end_of_turn import silence_curves

    cfg = EndOfTurnConfig(bias=-1.0, cue_weight=0.5, fragment_s=0.3, fragment_wait_s=0.8)
    f = _frames([(1.0, True), (0.6, False), (0.25, True), (1.5, False), (1.2, True), (3.0, False)],
                f0_end_st=-3.0)
    tr = EndOfTurnTracker(cfg, _baseline(), 0.18)
    tr.log = []
    rows, _ = tr.update(f, None, len(f))
    sp = f["speech_raw"].copy()
    got = np.concatenate([p for _, _, p in silence_curves(tr.log, sp, cfg)])
    assert len(tr.log) == 3 and got.size == rows.shape[0]
    np.testing.assert_allclose(got, rows["turn_end_prob"], rtol=1e-5)
    assert np.any(got == 0.0)   # the fragment's silence was held


def test_config_is_validated():
    from prosync.engine.errors import ProsyncError

    with pytest.raises(ProsyncError, match="threshold"):
        EndOfTurnConfig(threshold=1.5).validate()


@pytest.mark.parametrize("block", [160, 591, 16000])
def test_session_rows_do_not_depend_on_push_sizes(block):
    """Through the Session (its cues read the user's baseline, fed in fixed 100 ms bins)."""
    from prosync import Session
    from tests.audio import dialogue

    a, b, _ = dialogue()
    cfg = Config(end_of_turn=EndOfTurnConfig(threshold=0.3))

    def run(step):
        s = Session(("user", "agent"), config=cfg)
        ups = []
        for i in range(0, a.size, step):
            ups += [s.push(0, a[i:i + step]), s.push(1, b[i:i + step])]
        ups.append(s.close())
        return (np.concatenate([u.end_of_turn for u in ups]),
                [e for u in ups for e in u.turn_end])

    ref_rows, ref_ev = run(a.size)  # everything in one push
    rows, ev = run(block)
    assert len(ref_rows) > 100 and ref_ev
    np.testing.assert_array_equal(rows, ref_rows)
    assert ev == ref_ev

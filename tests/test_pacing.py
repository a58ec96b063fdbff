"""Known-answer tests of engine/pacing.py (PacingTracker) on constructed binned series."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prosync.calibration.baseline import MIN_SPEECH, MIN_VOICED, SpeakerBaseline
from prosync.engine.config import PacingConfig
from prosync.engine.pacing import PacingTracker
from prosync.engine.turns import TurnEvent

SPK = ("user", "agent")


def _bins(n, t0=0.0, *, rate=4.0, energy=0.0, f0=0.0, vad=1.0, level=-25.0, f0_st=90.0,
          f0_range=8.0, base_rate=4.0, settled=True):
    k = MIN_SPEECH + MIN_VOICED if settled else 10
    return {
        "t_s": t0 + 0.1 * (np.arange(n) + 1), "rate": np.full(n, rate, float),
        "energy": np.full(n, energy, float), "f0": np.full(n, f0, float),
        "vad": np.full(n, vad, float), "base_level_db": np.full(n, level, float),
        "base_f0_st": np.full(n, f0_st, float), "base_f0_range_st": np.full(n, f0_range, float),
        "base_rate_sps": np.full(n, base_rate, float), "n_voiced": np.full(n, k, float),
        "n_speech": np.full(n, k, float),
    }


def _tracker(cfg=None):
    bl = [SpeakerBaseline(), SpeakerBaseline()]
    return PacingTracker(cfg or PacingConfig(), 10.0, bl, SPK, 0.18), bl


def _last(tr, user, agent):
    rows = tr.update([user, agent])
    assert tr.latest is rows[-1]
    return rows[-1]


@pytest.mark.parametrize("agent_rate, target", [
    (5.0, 4.4),    # agent faster than the band: down to the band edge (user + 10 %)
    (3.0, 3.6),    # slower: up to user - 10 %
    (4.2, 4.2),    # inside the dead band: the agent's own rate is kept
    (4.4, 4.4),    # on the edge
])
def test_target_rate_dead_band(agent_rate, target):
    tr, _ = _tracker()
    row = _last(tr, _bins(50, rate=4.0), _bins(50, rate=agent_rate))
    assert row.target_rate_sps == pytest.approx(target)
    assert row.rate_ratio == pytest.approx(agent_rate / 4.0)   # > 1: the agent is faster


def test_target_rate_without_agent_rate_is_users():
    tr, _ = _tracker()
    row = _last(tr, _bins(5, rate=4.0), _bins(5, rate=np.nan))
    assert row.target_rate_sps == pytest.approx(4.0) and math.isnan(row.rate_ratio)
    tr, _ = _tracker()
    row = _last(tr, _bins(5, rate=np.nan), _bins(5, rate=np.nan))
    assert math.isnan(row.target_rate_sps)


def _gap(end_s, fto_s, taker="user"):
    other = "agent" if taker == "user" else "user"
    return TurnEvent("gap", taker, end_s - max(fto_s, 0), end_s, fto_s, other, taker)


@pytest.mark.parametrize("ftos, want_ms", [
    ([], 250.0),                       # default before any floor transfer of the user
    ([0.6, 0.6, 0.6], 625.0),          # median FTO, 50 ms bins -> bin centre 0.625 s
    ([0.2, 0.6, 0.9], 625.0),
    ([2.5, 2.8, 2.6], 250.0),          # lapses (over max_reply_delay_ms) are not gaps
    ([-0.4, -0.2, -0.3], 150.0),       # overlaps: bounded below
])
def test_reply_delay_from_users_ftos_bounded(ftos, want_ms):
    tr, bl = _tracker()
    tr.add_events([_gap(1.0 + i, f) for i, f in enumerate(ftos)])
    row = _last(tr, _bins(100, rate=4.0), _bins(100, rate=4.0))
    assert row.hesitation == 0.0
    assert row.reply_delay_ms == pytest.approx(want_ms)
    assert bl[0].n_fto == sum(f <= 1.5 for f in ftos)  # lapses are not counted
    assert row.conf_reply_delay == min(1.0, sum(f <= 1.5 for f in ftos) / 3)


def test_events_apply_only_once_final():
    tr, bl = _tracker()
    tr.add_events([_gap(5.0, 0.6)])
    tr.update([_bins(50), _bins(50)])          # bins up to 5.0 s: not yet final (+0.23 s)
    assert bl[0].n_fto == 0
    tr.update([_bins(3, 5.0), _bins(3, 5.0)])  # 5.3 s >= 5.0 + 0.18 + 0.05
    assert bl[0].n_fto == 1


def test_hesitation_is_reported_and_does_not_move_the_delay():
    """The reply delay is the user's own gap; hesitation is measured and reported (it used to
    lengthen the delay, which changed nothing on the end-of-turn bench once turn_end gates the
    reply, and made replies slower than the user's own gaps)."""
    tr, _ = _tracker()
    tr.add_events([_gap(1.0, 0.4)] * 3)
    calm = _last(tr, _bins(60, rate=4.0), _bins(60))
    assert calm.hesitation == 0.0 and calm.reply_delay_ms == pytest.approx(425.0)
    tr2, _ = _tracker()
    tr2.add_events([_gap(1.0, 0.4)] * 3)
    # the user pauses 1 s within their turn (ends at 4 s): h_pause = 0.5 -> hesitation 0.25
    tr2.add_events([TurnEvent("pause", "user", 3.0, 4.0, math.nan, "user", "user")])
    paused = _last(tr2, _bins(60, rate=4.0), _bins(60))
    assert paused.hesitation == pytest.approx(0.25)
    assert paused.reply_delay_ms == calm.reply_delay_ms
    # plus energy 6 dB below the speech level and rate at 70 % of baseline: full hesitation
    tr3, _ = _tracker()
    tr3.add_events([_gap(1.0, 0.4)] * 3)
    tr3.add_events([TurnEvent("pause", "user", 3.0, 5.0, math.nan, "user", "user")])
    hes = _last(tr3, _bins(60, rate=2.8, energy=-6.0, base_rate=4.0), _bins(60))
    assert hes.hesitation == pytest.approx(1.0)
    assert hes.reply_delay_ms == calm.reply_delay_ms
    # a pause older than 10 s no longer counts
    later = _last(tr2, _bins(150, 6.0, rate=4.0), _bins(150, 6.0))
    assert later.hesitation == 0.0


def test_reply_delay_moves_from_the_prior_to_the_users_median_gap():
    """250 ms before any floor transfer of the user, then a third of the way to their median
    gap per transfer, their median gap from the third on."""
    from prosync.engine.pacing import gap_delay_ms

    cfg = PacingConfig()
    assert gap_delay_ms(cfg, math.nan, 0) == 250.0
    assert gap_delay_ms(cfg, 0.55, 1) == pytest.approx(350.0)
    assert gap_delay_ms(cfg, 0.55, 2) == pytest.approx(450.0)
    assert gap_delay_ms(cfg, 0.55, 3) == gap_delay_ms(cfg, 0.55, 30) == pytest.approx(550.0)
    assert gap_delay_ms(cfg, 9.0, 5) == cfg.max_reply_delay_ms
    assert gap_delay_ms(cfg, -0.5, 5) == cfg.min_reply_delay_ms
    tr, _ = _tracker()
    delays = []
    for i, f in enumerate((0.55, 0.55, 0.55)):
        tr.add_events([_gap(1.0 + i, f)])
        delays.append(_last(tr, _bins(10, 1.0 * i + 0.5), _bins(10, 1.0 * i + 0.5)).reply_delay_ms)
    assert delays == pytest.approx([250.0 + (575.0 - 250.0) * k / 3 for k in (1, 2, 3)])


def test_signs_of_loudness_pitch_and_mismatch():
    tr, bl = _tracker()
    tr.add_events([_gap(1.0, 0.3)] * 3 + [_gap(2.0, 0.8, "agent")] * 3)
    row = _last(tr, _bins(60, level=-20.0, f0=2.0, f0_st=95.0, f0_range=10.0),
                _bins(60, level=-26.0, f0_st=80.0, f0_range=6.0))
    assert row.loudness_offset_db == pytest.approx(6.0)      # user louder: agent speaks up
    assert row.loudness_mismatch_db == pytest.approx(-6.0)   # agent minus user
    assert row.f0_offset_st == pytest.approx(2.0)            # user above their usual pitch
    assert row.f0_level_mismatch_st == pytest.approx(-15.0)
    assert row.f0_range_mismatch_st == pytest.approx(-4.0)
    assert row.gap_mismatch_s == pytest.approx(0.5)          # the agent waits longer
    assert row.user_speaking and not row.warming_up
    # within the dead band: no loudness change; beyond the limit: clipped
    tr, _ = _tracker()
    assert _last(tr, _bins(5, level=-20.0), _bins(5, level=-21.5)).loudness_offset_db == 0.0
    tr, _ = _tracker()
    assert _last(tr, _bins(5, level=-10.0), _bins(5, level=-30.0)).loudness_offset_db == 6.0
    tr, _ = _tracker()
    assert _last(tr, _bins(5, f0=-9.0), _bins(5)).f0_offset_st == -4.0


def test_warming_up_and_confidence():
    tr, _ = _tracker()
    row = _last(tr, _bins(3, settled=False, vad=0.2), _bins(3))
    assert row.warming_up and not row.user_speaking
    assert row.conf_f0 == pytest.approx(10 / MIN_VOICED)
    assert row.conf_rate == pytest.approx(10 / MIN_SPEECH)
    assert row.conf_reply_delay == 0.0


def test_empty_update():
    tr, _ = _tracker()
    assert tr.update([_bins(0), _bins(0)]) == [] and tr.latest is None


def test_advice_is_sane_from_the_first_second():
    """No 0.02 syl/s target from a rolling rate that has just started, no delay pinned at the
    ceiling by one long first floor transfer: both are gated by their confidence."""
    tr, bl = _tracker()
    bl[0].add_fto(2.0)   # one slow first floor transfer of the user
    row = _last(tr, _bins(6, rate=0.02, settled=False), _bins(6, rate=np.nan, settled=False))
    assert math.isnan(row.target_rate_sps)
    assert row.reply_delay_ms == pytest.approx(250 + (2000 - 250) / 3, abs=15)  # 50 ms bins
    assert row.conf_reply_delay == pytest.approx(1 / 3)


def test_advice_through_a_session_is_sane_in_the_first_second():
    """Real audio through the Session: within 0.6 s of the user's first speech no target rate
    below 2 syl/s and no reply delay at the ceiling (both seen before the confidence gating)."""
    from prosync import Session
    from tests.audio import dialogue

    a, b, ipus = dialogue()
    s = Session(("user", "agent"))
    rows = []
    for i in range(0, a.size, 320):
        rows += s.push(0, a[i:i + 320]).pacing + s.push(1, b[i:i + 320]).pacing
    first = ipus["a"][0][0]
    early = [r for r in rows if first <= r.t_s <= first + 0.6]
    assert len(early) >= 5
    for r in early:
        assert r.reply_delay_ms < PacingConfig().max_reply_delay_ms
    # never a target below the 10 % band around 2 syl/s, from the first row to the last
    assert all(math.isnan(r.target_rate_sps) or r.target_rate_sps >= 1.8 - 1e-9 for r in rows)


@pytest.mark.parametrize("lookback_s", [0.1, 0.5])
def test_pacing_does_not_depend_on_push_size_with_a_long_onset_lookback(lookback_s):
    """Turn events become final ``Session.turn_lookahead_s`` after their end (the IPU bridge
    plus the onset look-back); pacing must wait that long, or a large look-back made its rows
    differ between one push and 10 ms pushes (6 of 120 rows at 0.5 s before the fix)."""
    import dataclasses

    from prosync import Session
    from prosync.engine.config import Config
    from tests.audio import dialogue

    a, b, _ = dialogue()
    c = Config()
    cfg = dataclasses.replace(c, turns=dataclasses.replace(c.turns, onset_lookback_s=lookback_s))

    def rows(size):
        s = Session(config=cfg)
        out = []
        for i in range(0, a.size, size):
            out += s.push(0, a[i:i + size]).pacing + s.push(1, b[i:i + size]).pacing
        return out + s.close().pacing

    whole, small = rows(a.size), rows(160)
    assert len(whole) == len(small) > 100
    assert [repr(r) for r in whole] == [repr(r) for r in small]

"""bench_end_of_turn.advice_fires (replies at prosync's advice: turn_end, then the advised
delay) against a slow, obviously correct twin and known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("soundfile")
from bench.bench_end_of_turn import advice_fires  # noqa: E402
from prosync.engine.config import HOP_S, EndOfTurnConfig  # noqa: E402
from prosync.engine.endofturn import silence_logit  # noqa: E402


def _slow(log, speech_raw, cfg, advised, col):
    """Frame by frame: the silence so far, the probability, the delay advised at that moment."""
    out = []
    for e, cues, n_p, s_lp, n_end, *_ in log:
        k = round(e / HOP_S)
        for j in range(int(round(cfg.horizon_s / HOP_S))):
            if k + j < speech_raw.size and speech_raw[k + j]:
                break  # the user spoke again
            s = (j + 1) * HOP_S
            z = silence_logit(cfg, np.array([s]), cues, n_p, s_lp, n_end)[0]
            p = 1 / (1 + math.exp(-z))
            rows = [r for r in advised if r[0] <= e + s]
            d = (rows[-1] if rows else advised[0])[col] / 1000
            if p >= cfg.threshold and s >= d - 1e-9:
                out.append(e + s)
                break
    return out


def _case(rng, n_sil=12):
    speech = np.zeros(6000, bool)
    log, t = [], 0.5
    for _ in range(n_sil):
        k0 = int(round(t / HOP_S))
        speech[k0 - 30:k0] = True
        log.append((k0 * HOP_S, (), int(rng.integers(0, 6)), float(rng.normal(-3, 1)),
                    int(rng.integers(0, 6)), ()))
        t += rng.uniform(0.4, 4.0)
    speech = speech[: int(round(t / HOP_S)) + 10]
    ts = np.arange(0.0, t, 0.1)
    advised = np.column_stack([ts, rng.uniform(150, 1500, ts.size),
                               rng.uniform(150, 1500, ts.size)])
    return log, speech, advised


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("variant, col", [("gap", 1), ("hesitation", 2)])
def test_advice_fires_equals_the_slow_twin(seed, variant, col):
    rng = np.random.default_rng(seed)
    log, speech, advised = _case(rng)
    cfg = EndOfTurnConfig(bias=float(rng.uniform(-3, 0)))
    got = advice_fires(log, speech, cfg, advised, variant)
    want = _slow(log, speech, cfg, advised, col)
    assert len(got) > 0
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_the_later_of_turn_end_and_the_delay_sets_the_reply():
    cfg = EndOfTurnConfig()
    speech = np.zeros(400, bool)
    speech[:100] = True                                  # speech ends at 1.0 s
    log = [(1.0, (), 0, 0.0, 0, ())]
    z = silence_logit(cfg, np.arange(1, 301) * HOP_S, (), 0, 0.0, 0)
    cross = (np.flatnonzero(z >= 0)[0] + 1) * HOP_S      # turn_end's latency (p >= 0.5)
    short = np.array([[0.0, 200.0, 200.0]])
    long_ = np.array([[0.0, 200.0, 1000 * cross + 300.0]])
    detail: list = []
    assert advice_fires(log, speech, cfg, short, "gap", detail) == pytest.approx([1.0 + cross])
    assert detail[0][1:] == pytest.approx((cross, 0.2))
    assert advice_fires(log, speech, cfg, long_, "hesitation") == pytest.approx(
        [1.0 + cross + 0.3])
    speech[100 + int(round(cross / HOP_S)) + 10] = True  # the user resumes before the delay
    assert advice_fires(log, speech, cfg, long_, "hesitation") == []

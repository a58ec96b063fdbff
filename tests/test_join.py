"""engine/join.py: the joining queue and the fused cross-talk kernel (native/hop.cross_talk)
against slow, obviously correct references."""

from __future__ import annotations

import numpy as np
import pytest

from prosync.engine.config import HOP, VadConfig
from prosync.engine.join import CrossTalk, Pending
from prosync.engine.speaker import FRAME_DTYPE
from tests.test_vad import channel_correlation_ref


def _splits(n, rng):
    i = 0
    while i < n:
        m = int(rng.choice([1, 1, 2, 7, 40, 130]))
        yield i, min(n, i + m)
        i += m


@pytest.mark.parametrize("seed", range(3))
def test_cross_talk_in_blocks_equals_the_whole_stream_reference(seed):
    """Blocks of any size (the channels' history carried between calls, with and without frames
    that need the comparison) give the flags of the plain rule on the whole stream: where both
    are speech and the channels' correlation (:func:`channel_correlation_ref`) reaches
    ``cross_talk_corr``, the quieter channel's ``speech`` and ``speech_raw`` are dropped."""
    rng = np.random.default_rng(700 + seed)
    cfg = VadConfig()
    n = 400
    xa = (0.1 * rng.standard_normal(n * HOP)).astype(np.float32)
    xb = (0.1 * rng.standard_normal(n * HOP)).astype(np.float32)
    bleed = np.repeat(rng.random(n // 20) < 0.5, 20 * HOP)  # stretches of one voice on both
    xb[bleed] += 0.7 * np.roll(xa, 3)[bleed]
    fr = [np.zeros(n, FRAME_DTYPE) for _ in range(2)]
    for f in fr:
        f["energy_db"] = rng.uniform(-60, -20, n)
        f["speech"] = np.repeat(rng.random(n // 10) < 0.7, 10)
        f["speech_raw"] = f["speech"] & (rng.random(n) < 0.9)
    want = [f.copy() for f in fr]
    xt = CrossTalk(cfg)
    full = [np.concatenate([np.zeros(xt.pre, np.float32), x]) for x in (xa, xb)]
    need = want[0]["speech"] & want[1]["speech"]
    corr = channel_correlation_ref(full[0], full[1], xt.pre, n, HOP, xt.win, xt.max_lag, need)
    assert 0 < (corr >= cfg.cross_talk_corr).sum() < need.sum()  # both cases occur
    a, b = want
    for col in ("speech", "speech_raw"):
        for i in range(n):
            if a[col][i] and b[col][i] and corr[i] >= cfg.cross_talk_corr:
                (a if a["energy_db"][i] < b["energy_db"][i] else b)[col][i] = False
    for lo, hi in _splits(n, rng):
        xt.apply(fr[0][lo:hi], fr[1][lo:hi], xa[lo * HOP:hi * HOP], xb[lo * HOP:hi * HOP],
                 hi - lo)
    for f, w in zip(fr, want):
        for col in ("speech", "speech_raw"):
            assert np.array_equal(f[col], w[col]), col


def test_pending_keeps_order_across_growth_and_compaction():
    rng = np.random.default_rng(5)
    p = Pending(cap=8, keep_pcm=True)
    fed = taken = 0
    for _ in range(300):
        m = int(rng.integers(1, 12))
        fr = np.zeros(m, FRAME_DTYPE)
        fr["nucleus_age"] = np.arange(fed, fed + m)
        pcm = np.repeat(np.arange(fed, fed + m, dtype=np.float32), HOP)
        p.add(m, fr, pcm)
        fed += m
        k = int(rng.integers(0, p.n + 1))
        got = p.take(k)
        assert np.array_equal(got["nucleus_age"], np.arange(taken, taken + k))
        assert np.array_equal(p.taken_pcm, np.repeat(np.arange(taken, taken + k), HOP))
        taken += k
        assert p.n == fed - taken and p.k0 == taken

"""pytest-benchmark suite: steady-state speed of the engine beside a peer, in the same run.

    pytest bench/test_benchmarks.py --benchmark-enable [--benchmark-compare]

Inputs are the built-in demo dialogue (seeded, realistic speech, nothing downloaded). Every
benchmark warms up first, so numba's compile or cache load is excluded (the first call's time
is reported by ``bench/bench_core.py``). Compare prosync with Praat's ``to_pitch_ac`` on the same
10 s of audio in the same run: these machines are shared, only ratios are meaningful.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from prosync import Session, wcc
from prosync.commands.offline import DEMO
from prosync.engine.wcc import StreamingWcc

SECONDS = 10


@pytest.fixture(scope="module")
def stereo():
    x, sr = sf.read(str(DEMO), dtype="float32")
    assert sr == 16000
    return np.ascontiguousarray(x[: SECONDS * sr])


def _session(x, block, sync=True):
    s = Session(sample_rate=16000, synchrony=sync)
    for i in range(0, len(x), block):
        s.push(0, x[i:i + block, 0])
        s.push(1, x[i:i + block, 1])
    s.close()


@pytest.mark.benchmark(group="10 s stereo")
def test_prosync_core_10s(benchmark, stereo):
    _session(stereo[:16000], 8000, sync=False)
    benchmark(_session, stereo, 8000, False)


@pytest.mark.benchmark(group="10 s stereo")
def test_prosync_session_with_synchrony_10s(benchmark, stereo):
    _session(stereo[:16000], 8000)
    benchmark(_session, stereo, 8000)


@pytest.mark.benchmark(group="10 s stereo")
def test_prosync_session_10ms_blocks_10s(benchmark, stereo):
    _session(stereo[:16000], 160)
    benchmark(_session, stereo, 160)


@pytest.mark.benchmark(group="10 s stereo")
def test_peer_praat_to_pitch_ac_10s(benchmark, stereo):
    parselmouth = pytest.importorskip("parselmouth")

    def praat():
        for c in range(2):
            snd = parselmouth.Sound(stereo[:, c].astype(np.float64), sampling_frequency=16000)
            snd.to_pitch_ac(time_step=0.01, pitch_floor=60.0, pitch_ceiling=500.0)

    benchmark(praat)


@pytest.mark.benchmark(group="wcc")
def test_wcc_batch_60min_research_preset(benchmark):
    rng = np.random.default_rng(0)
    n = 36000
    a = np.cumsum(rng.standard_normal(n)) * 0.1
    b = np.roll(a, 15) + rng.standard_normal(n)
    wcc(a[:1000], b[:1000], rate_hz=10, lag_s=5, window_s=30, step_s=10)
    benchmark(wcc, a, b, rate_hz=10, lag_s=5, window_s=30, step_s=10)


@pytest.mark.benchmark(group="wcc")
def test_streaming_wcc_one_bin(benchmark):
    rng = np.random.default_rng(1)
    s = StreamingWcc(10, 2, 8, 0.5, fisher_z=False, absolute=False)
    x = rng.standard_normal(2000)
    s.push(x, x[::-1].copy())
    one = np.array([0.3]), np.array([-0.2])
    benchmark(s.push, *one)

"""The one session loop, the duplex driver and the sink contract.

The tables ``prosync score`` writes must hold exactly what a bare :class:`Session` gives for the
same audio pushed in other block sizes (the loop, the sinks and the Arrow conversion add and lose
nothing): checked on the shipped demo dialogue and on a CANDOR clip of ../shared.
"""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from prosync import ProsyncError, Session
from prosync.engine.duplex import Duplex, merge_updates
from prosync.engine.loop import run_session
from prosync.engine.warm import is_warm
from prosync.score import score
from prosync.streams.files import FileSource
from prosync.streams.journal import Recorder
from prosync.streams.jsonl import JsonlSink
from prosync.streams.parquet import SessionWriter
from prosync.streams.sink import CallbackSink
from tests.audio import dialogue

DEMO = __import__("prosync.commands.offline", fromlist=["DEMO"]).DEMO


def _nan(v):
    return math.nan if v is None else v


def _reference(path, names, block):
    """Every update of a bare Session fed ``block`` samples at a time, merged."""
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    s = Session(names, sample_rate=sr)
    ups = []
    for i in range(0, len(x), block):
        for k in range(2):
            ups.append(s.push(k, np.ascontiguousarray(x[i:i + block, k])))
    ups.append(s.close())
    return merge_updates(ups)


def _assert_same(a, b, what):
    a = np.asarray([_nan(v) for v in a], dtype=float)
    b = np.asarray([_nan(v) for v in b], dtype=float)
    assert a.shape == b.shape, what
    np.testing.assert_array_equal(a, b, err_msg=what)


def _check_tables(out, ref, names):
    fr = pq.read_table(out / "frames.parquet").to_pydict()
    for spk in names:
        rows = [i for i, s in enumerate(fr["speaker"]) if s == spk]
        rec = ref.frames[spk]
        assert len(rows) == len(rec) > 0
        for col in fr:
            if col in rec.dtype.names:
                _assert_same([fr[col][i] for i in rows], rec[col].astype(float), f"frames.{col}")
    # turn events: the same set (their order within an update follows the block boundaries)
    tu = pq.read_table(out / "turns.parquet").to_pylist()
    cols = ("kind", "speaker", "start_s", "end_s", "fto_s", "speaker_before", "speaker_after")

    def key(row):
        return tuple(repr(float(_nan(v))) if k.endswith("_s") else (v or "")
                     for k, v in row.items())

    got = sorted(key({k: e[k] for k in cols}) for e in tu)
    assert got == sorted(key({k: getattr(e, k) for k in cols}) for e in ref.events)
    for table, rows in (("synchrony", ref.synchrony), ("pacing", ref.pacing)):
        got = pq.read_table(out / f"{table}.parquet").to_pylist()
        assert len(got) == len(rows) > 0, table
        for col, v in got[0].items():
            if isinstance(v, (float, int)) and not isinstance(v, bool) or v is None:
                _assert_same([g[col] for g in got], [getattr(r, col) for r in rows],
                             f"{table}.{col}")
            else:
                assert [g[col] for g in got] == [getattr(r, col) for r in rows], f"{table}.{col}"
    se = pq.read_table(out / "series.parquet").to_pydict()
    for spk in names:
        rows = [i for i, s in enumerate(se["speaker"]) if s == spk]
        _assert_same([se["t_s"][i] for i in rows], ref.series[spk]["t_s"], "series.t_s")
        _assert_same([se["f0_st"][i] for i in rows], ref.series[spk]["f0"], "series.f0_st")


def test_score_of_the_demo_equals_the_bare_session(tmp_path):
    names = ("ada", "ben")
    res = score([DEMO], tmp_path / "d", speakers=names, report=False)
    _check_tables(tmp_path / "d", _reference(DEMO, names, 4801), names)
    assert res.summary == json.loads((tmp_path / "d" / "summary.json").read_text())


def test_score_of_a_candor_clip_equals_the_bare_session(tmp_path, shared_data):
    wav = shared_data / "candor_mmvap_stereo" / "shift.wav"
    if not wav.exists():
        pytest.skip(f"{wav} is absent")
    score([wav], tmp_path / "c", report=False)
    _check_tables(tmp_path / "c", _reference(wav, ("a", "b"), 320), ("a", "b"))


def test_score_of_a_mono_mix_with_rttm_equals_the_bare_session(tmp_path, shared_data):
    """The RTTM split: each speaker's stream is the mix outside the other's turns (silence
    there), pushed through a bare Session without bleed removal; plus the overlap rows."""
    from prosync.streams import rttm as R

    d = shared_data / "pyannote_sample_phonecall"
    wav, rttm = d / "sample.wav", d / "sample.rttm"
    if not wav.exists():
        pytest.skip(f"{wav} is absent")
    res = score([wav], tmp_path / "r", rttm=rttm, report=False)
    names = tuple(res.summary["speakers"])
    x, sr = sf.read(str(wav), dtype="float32")
    turns = R.read_rttm(rttm)
    s = Session(names, sample_rate=sr, two_mics=False)
    ups = []
    streams = []
    for n in names:
        y = np.zeros_like(x)
        for a, b in R.intervals(turns, n, sr):
            y[a:b] = x[a:b]
        streams.append(y)
    for i in range(0, len(x), 3001):
        for k in range(2):
            ups.append(s.push(k, streams[k][i:i + 3001]))
    ups.append(s.close())
    ref = merge_updates(ups)
    ov = R.overlaps(R.intervals(turns, names[0], sr), R.intervals(turns, names[1], sr))
    tu = pq.read_table(tmp_path / "r" / "turns.parquet").to_pylist()
    assert sum(e["kind"] == "rttm_overlap" for e in tu) == len(ov) > 0
    from prosync.engine.turns import TurnEvent

    ref.events += [TurnEvent("rttm_overlap", "+".join(names), round(a / sr, 3), round(b / sr, 3))
                   for a, b in ov]
    _check_tables(tmp_path / "r", ref, names)


def test_updates_carry_their_compute_time_and_merge_sums_it():
    a, b, _ = dialogue()
    a, b = a[:48000], b[:48000]
    s = Session()
    u1, u2 = s.push(0, a), s.push(1, b)
    assert u1.compute_s > 0 and u2.compute_s > 0
    assert merge_updates([u1, u2]).compute_s == pytest.approx(u2.compute_s + u1.compute_s)
    d = Duplex(Session())
    u = d.feed([a[:800], b[:800]])
    assert u.compute_s > 0


def test_synchrony_off_is_public_and_keeps_frames_and_turns():
    a, b, _ = dialogue()
    on, off = Session(), Session(synchrony=False)
    u_on = merge_updates([on.push(0, a), on.push(1, b), on.close()])
    u_off = merge_updates([off.push(0, a), off.push(1, b), off.close()])
    assert not u_off.synchrony and not u_off.pacing and not u_off.series and u_on.series
    for spk in ("a", "b"):
        assert u_on.frames[spk].tobytes() == u_off.frames[spk].tobytes()
    assert [e.start_s for e in u_on.events] == [e.start_s for e in u_off.events]
    # without the synchrony tracker both baselines still learn
    assert off.baselines["b"].n_voiced > 100 and off.baselines["a"].n_voiced > 100


def test_constructing_a_session_warms_the_kernels():
    Session()
    assert is_warm()


_NO_LATE_KERNELS = r"""
import sys
import numpy as np, soundfile as sf
from numba.core.dispatcher import Dispatcher
from prosync import Session
Session()  # the warm-up
loaded = []
orig = Dispatcher._compile_for_args
def spy(self, *a, **k):
    loaded.append(self.py_func.__name__)
    return orig(self, *a, **k)
Dispatcher._compile_for_args = spy
x, sr = sf.read(sys.argv[1], dtype="float32", always_2d=True, frames=40 * 16000)
if int(sys.argv[2]) != sr:  # a 48 kHz microphone: the resampler's kernel too
    import soxr
    x, sr = soxr.resample(x, sr, int(sys.argv[2])).astype(np.float32), int(sys.argv[2])
s = Session(sample_rate=sr)
a, b = np.ascontiguousarray(x[:, 0]), np.ascontiguousarray(x[:, 1])
for i in range(0, a.shape[0], sr // 10):
    s.push(0, a[i:i + sr // 10])
    s.push(1, b[i:i + sr // 10])
s.close()
print(",".join(loaded))
"""


@pytest.mark.parametrize("rate", [16000, 48000])
def test_a_live_session_loads_no_kernel_after_the_warm_up(rate):
    """No numba kernel is first loaded mid-session (a 5-20 ms stall): the window surrogates,
    which start only once ``MIN_HISTORY_CHUNKS`` chunks of history exist (30 s into a live
    session), and the resampler of a 48 kHz microphone must load in the warm-up. A fresh
    interpreter, so no other test has loaded them."""
    if __import__("prosync.native._jit", fromlist=["jit_disabled"]).jit_disabled():
        pytest.skip("NUMBA_DISABLE_JIT: no kernels to load")
    out = subprocess.run([sys.executable, "-c", _NO_LATE_KERNELS, str(DEMO), str(rate)],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"kernels loaded mid-session: {out.stdout.strip()}"


def test_sinks_refuse_use_after_close(tmp_path):
    a, b, _ = dialogue()
    a, b = a[:32000], b[:32000]
    s = Session()
    upd = merge_updates([s.push(0, a), s.push(1, b), s.close()])
    sinks = [SessionWriter(tmp_path / "w"), Recorder(tmp_path / "r", ("a", "b"), 16000, True),
             JsonlSink(io.StringIO()), CallbackSink(lambda u: None)]
    for sink in sinks:
        sink.write(upd)
        sink.close({"x": 1})
        assert sink.close() == []  # a second close does nothing
        with pytest.raises(ProsyncError, match="after close"):
            sink.write(upd)
    assert json.loads((tmp_path / "w" / "summary.json").read_text()) == {"x": 1}


def test_a_failing_session_leaves_no_output_file(tmp_path):
    """An error in the middle of the loop aborts every sink: nothing half-written is left."""

    class Broken(FileSource):
        def blocks(self):
            it = super().blocks()
            yield next(it)
            raise OSError("disk vanished")

    src = Broken([DEMO], block=8000)
    with pytest.raises(OSError, match="vanished"):
        run_session(src, Session(src.speakers, sample_rate=src.sample_rate),
                    [SessionWriter(tmp_path / "o")])
    assert list((tmp_path / "o").iterdir()) == []


def test_pad_agent_aligns_the_agent_stream():
    a, _, _ = dialogue()
    d = Duplex(Session(("user", "agent")), pad_agent=True)
    d.push(0, a[:16000])
    assert d.time_s == 1.0 and d._pos == [16000, 16000]
    d.push(1, a[:1600])  # placed at the user's time
    assert d._pos == [16000, 17600]

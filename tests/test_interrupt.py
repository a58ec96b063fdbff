"""Ctrl-C, for real: SIGINT sent to a ``prosync`` child process group, as a terminal does.

``score`` leaves no output file (finished or half-written); ``corpus --workers 2`` cancels its
queue, kills the running sessions and leaves a resumable dataset with the interrupted sessions
recorded; ``serve`` stops with its clients connected. (How fast each stops is a figure, not an
assertion here: the bound below only tells "stopped" from "went on working".)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from prosync.commands.offline import DEMO

PROSYNC = [sys.executable, "-m", "prosync.cli"]
#: An interrupted command must be gone well before it could have finished its work.
STOPPED_S = 10.0


def _start(args, **kw):
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "prosync" / "numba"))
    return subprocess.Popen([*PROSYNC, *args], start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


def _wait_for(cond, timeout=120.0, proc=None):
    t0 = time.monotonic()
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"exited early ({proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() - t0 > timeout:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _interrupt(proc) -> tuple[int, str, float]:
    """Ctrl-C to the child's process group; returns (exit code, stderr, seconds to exit)."""
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc.returncode, err, time.monotonic() - t0


@pytest.fixture(scope="module")
def long_demo(tmp_path_factory) -> Path:
    """The demo dialogue tiled to 20 minutes: scoring it takes far longer than stopping, even on a
    fast machine where 6 minutes were scored before a late-handled Ctrl-C came through."""
    x, sr = sf.read(str(DEMO), dtype="int16", always_2d=True)
    p = tmp_path_factory.mktemp("long") / "long.flac"
    sf.write(str(p), np.tile(x, (12, 1)), sr)
    return p


def test_ctrl_c_in_score_leaves_no_output_file(long_demo, tmp_path):
    out = tmp_path / "out"
    p = _start(["score", str(long_demo), "--out", str(out), "--quiet"])
    _wait_for(lambda: (out / ".frames.parquet.partial").exists(), proc=p)
    time.sleep(0.5)  # in the middle of the session
    rc, err, took = _interrupt(p)
    print(f"score stopped {took:.2f} s after SIGINT")
    assert rc == 130, err
    assert err.strip().splitlines()[-1] == "prosync: interrupted" and "Traceback" not in err
    assert took < STOPPED_S
    assert sorted(q.name for q in out.iterdir()) == []  # nothing finished, nothing half-written


def test_ctrl_c_in_corpus_stops_cancels_and_resumes(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(6):
        os.symlink(DEMO, src / f"s{i}.flac")
    out = tmp_path / "out"
    p = _start(["corpus", str(src), "--out", str(out), "--workers", "2", "--quiet"])
    work = out / ".work"
    _wait_for(lambda: work.is_dir() and any(any(d.iterdir()) for d in work.iterdir()), proc=p)
    rc, err, took = _interrupt(p)
    print(f"corpus stopped {took:.2f} s after SIGINT")
    assert rc == 130, err
    assert "Traceback" not in err and "run the same command again" in err
    assert took < STOPPED_S
    summ = json.loads((out / "corpus_summary.json").read_text())
    assert summ["interrupted"] is True and summ["sessions"] == 6
    fails = pq.read_table(out / "failures.parquet").to_pylist()
    reasons = {f["session"]: f["reason"] for f in fails}
    # every session not done is recorded: the running ones as interrupted, the queue as not started
    assert len(reasons) == 6 - summ["done"] and summ["done"] < 6
    assert any("while it was scored" in r for r in reasons.values())
    assert any("before it started" in r for r in reasons.values())
    # the workers are gone (killed, not finishing the queue in the background)
    n_done = summ["done"]
    time.sleep(3.0)
    assert len(list((out / "summary").glob("session=*/summary.json"))) == n_done
    # the same command resumes and finishes the dataset
    r = subprocess.run([*PROSYNC, "corpus", str(src), "--out", str(out), "--workers", "2",
                        "--quiet"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    summ = json.loads((out / "corpus_summary.json").read_text())
    assert summ["done"] == 6 and summ["failed"] == 0 and summ["interrupted"] is False
    assert not (out / ".work").exists() or not any((out / ".work").iterdir())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_in_serve_stops_with_a_client_connected(workers):
    pytest.importorskip("websockets")
    from prosync.streams.websocket import read_stereo_pcm16, stream_audio

    port = _free_port()
    p = _start(["serve", "--port", str(port), "--workers", str(workers)])
    line = p.stderr.readline()
    assert "serving on" in line, line
    pcm, sr = read_stereo_pcm16(DEMO)
    got = []

    async def client():
        try:
            await stream_audio(f"ws://127.0.0.1:{port}", pcm[: 30 * sr], sr, speed=1.0,
                               on_message=lambda m, t: got.append(m))
        except Exception as exc:  # noqa: BLE001 - the server went away: that is the point
            return exc
        return None

    async def scenario():
        task = asyncio.create_task(client())
        while not any(m.get("type") == "metrics" for m in got):
            await asyncio.sleep(0.05)
        res = await asyncio.to_thread(_interrupt, p)
        await asyncio.wait_for(task, 30)
        return res

    rc, err, took = asyncio.run(scenario())
    print(f"serve --workers {workers} stopped {took:.2f} s after SIGINT")
    assert rc == 0, err
    assert "Traceback" not in err
    assert took < STOPPED_S
    assert not any(m.get("type") == "summary" for m in got)  # stopped mid-stream

"""Short CI versions of the reliability benches (``kill.py``, ``soak.py``, ``load_ws.py`` in
``bench/reliability/``): a few SIGKILLs of ``prosync score`` and ``prosync corpus``, a 2-minute
soak with RSS checked flat, a 5-client 10-second WebSocket load."""

from __future__ import annotations

import random

import numpy as np
import pytest

from bench.reliability import kill, load_ws, soak


def test_kill_score_loses_nothing(tmp_path):
    r = kill.kill_score(tmp_path, 2, random.Random(1), seconds=40.0, log=lambda m: None)
    assert r["runs"] == 2 and r["files_lost"] == 0 and r["unreadable"] == 0, r["problems"]
    assert r["reruns_ok"] == 2, r["problems"]


def test_kill_corpus_loses_nothing_and_resumes(tmp_path):
    r = kill.kill_corpus(tmp_path, 3, random.Random(2), sessions=3, seconds=30.0, log=lambda m: None)
    assert r["files_lost"] == 0 and r["unreadable"] == 0, r["problems"]
    assert r["reruns_ok"] == 3, r["problems"]


def test_soak_ten_minutes_rss_flat_and_final_window_features_match():
    """10 minutes of audio (about 2 s of compute): the session's buffers reach their steady size
    within 4 audio minutes (bench/reliability/soak.py, 8 h), so RSS must not grow from minute 5 to minute 9
    (the last minute is the window whose rows the benchmark keeps)."""
    res = soak.run(10 / 60, window_min=1.0, warmup_min=2.0, log=lambda m: None)
    mb = np.array([m for _, m in res["rss_series"]])
    assert len(mb) == 10
    assert mb[8] - mb[4] < 2.0, mb
    for s, v in res["final_window"]["frames"].items():
        c = v["identical_by_column"]
        assert v["rows"] == 6000
        for col in ("periodicity", "energy_db", "nucleus_age"):   # local features: bit-identical
            assert c[col] == v["rows"], (s, col, c)
        assert c["f0_hz"] >= 0.99 * v["rows"], (s, c)


def test_slope_helper():
    t = np.arange(10) / 60
    assert soak.slope_per_hour(t, 100 + 6 * t) == pytest.approx(6.0)


def test_ws_load_five_clients_ten_seconds():
    pytest.importorskip("websockets")
    r = load_ws.run(5, 10 / 60, seed=3, reconnect_s=4.0, log=lambda m: None, baseline_s=4.0)
    assert r["server_errors"] == 0 and r["server_alive"], r
    assert r["client_failures"] == 0, r["client_failure_examples"]
    assert r["unexpected_errors"] == 0 and r["malformed_answered"] == r["malformed_sent"], r
    assert r["unauthenticated_refused"] == r["unauthenticated_tried"] == 3
    assert r["bind"] == "127.0.0.1"
    # latency was measured (its size is bench/load_ws.py's business, not a unit test's: the
    # machine running the tests may be busy)
    assert r["latency_samples"] > 100 and np.isfinite(r["p99_ms"]), r
    assert r["probe_samples"] > 50 and np.isfinite(r["probe_p99_ms"]), r

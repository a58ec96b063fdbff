"""Fuzzing of the WebSocket protocol against a real server on 127.0.0.1 (short run; the long one
is ``bench/reliability/fuzz.py --targets ws``).

Random JSON, random binary, wrong types and orders: the server never crashes, every rejected
message gets exactly one ``{"type": "error"}`` with a documented code and a one-line message, the
connection stays usable (a probe is answered), and a well-behaved client streaming at the same
time gets every frame and its summary.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_targets import PROBE, WS_CODES, HypSource, WsChecker, gen_ws, ws_case_from_json

websockets = pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402

from prosync.streams.websocket import ServerOptions, stream_audio  # noqa: E402
from tests.audio import dialogue  # noqa: E402
from tests.test_websocket import _ServerThread  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "fuzz_corpus" / "ws"
def FUZZ(n):
    return settings(max_examples=n, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def server():
    s = _ServerThread()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def canary(server):
    """A well-behaved client streaming a 12 s dialogue (at 4x real time) while the fuzzers run."""
    a, b, _ = dialogue()
    pcm = (np.stack([a, b], 1) * 32767).astype(np.int16)
    out: dict = {}

    def run():
        try:
            out["msgs"] = asyncio.run(stream_audio(server.url, pcm, 16000, speed=4.0, block_ms=20))
        except Exception as exc:  # noqa: BLE001 - reported by the test
            out["error"] = repr(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    yield out
    t.join(60)


def _check(url, case):
    r, _ = WsChecker(url).check(case)
    assert r in ("ok", "error")


@FUZZ(150)
@given(st.data())
def test_generated_sessions_get_clear_errors_and_stay_open(server, canary, data):
    _check(server.url, gen_ws(HypSource(data.draw), deep_nesting=False))


SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
JSON = st.recursive(SCALAR,
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
                    max_leaves=12)


@FUZZ(150)
@given(st.one_of(JSON, st.fixed_dictionaries({"type": st.sampled_from(["start", "stop", "x"])},
                                             optional={"sample_rate": JSON, "speakers": JSON,
                                                       "config": JSON})))
def test_random_json_before_and_after_start(server, canary, value):
    text = json.dumps(value)
    maybe_valid = isinstance(value, dict) and value.get("type") in ("start", "stop")
    expect = "either" if maybe_valid else "reject"
    _check(server.url, [("text", text, expect)])
    start = json.dumps({"type": "start", "sample_rate": 16000})
    if not (isinstance(value, dict) and value.get("type") == "stop"):
        _check(server.url, [("text", start, "accept"), ("text", text, expect)])


@FUZZ(150)
@given(st.binary(max_size=3000), st.booleans())
def test_random_binary_before_and_after_start(server, canary, raw, started):
    ok = len(raw) >= 1 and raw[0] in (0, 1) and len(raw) % 2 == 1
    msgs = [("text", json.dumps({"type": "start", "sample_rate": 16000}), "accept")] if started else []
    msgs.append(("binary", raw, "accept" if (ok and started) else "reject"))
    _check(server.url, msgs)


@FUZZ(100)
@given(st.text(max_size=200))
def test_random_text(server, canary, text):
    try:
        v = json.loads(text)
    except ValueError:
        v = None
    maybe = isinstance(v, dict) and v.get("type") in ("start", "stop")
    _check(server.url, [("text", text, "either" if maybe else "reject")])


def test_the_canary_was_unaffected(server, canary):
    """Runs after the fuzz tests above (file order): the concurrent well-behaved client."""
    from tests.test_websocket import _collect

    for _ in range(120):
        if "msgs" in canary or "error" in canary:
            break
        threading.Event().wait(0.5)
    assert "error" not in canary, canary.get("error")
    msgs = canary["msgs"]
    assert msgs[0]["type"] == "ready" and msgs[-1]["type"] == "summary"
    assert not [m for m in msgs if m["type"] == "error"]
    frames, *_ = _collect(msgs)
    assert len(frames) == 2 * 1200


@pytest.mark.parametrize("path", sorted(p for p in CORPUS.glob("*.json") if not p.name.startswith("crash-")),
                         ids=lambda p: p.name)
def test_corpus_ws(server, path):
    _check(server.url, ws_case_from_json(path.read_text()))


def test_corpus_ws_crashes_found_by_the_long_run(server):
    """``crash-*.json``: inputs on which ``bench/reliability/fuzz.py`` saw an ``internal`` error
    (deeply nested JSON: a ``RecursionError`` in the server, since fixed in ``streams/ws_protocol.py``)."""
    crashes = sorted(CORPUS.glob("crash-*.json"))
    assert crashes
    for p in crashes:
        _check(server.url, ws_case_from_json(p.read_text()))


def test_oversized_and_huge_messages(server):
    big = 256 * 1024
    _check(server.url, [("text", json.dumps({"type": "start", "sample_rate": 16000}), "accept"),
                        ("binary", b"\x00" + b"\x00" * (big + 2), "reject"),
                        ("text", " " * (big + 10), "reject")])
    with connect(server.url, max_size=None) as ws:   # beyond 4x the limit: closed with 1009
        ws.send(b"\x00" * (4 * big + 1001))
        with pytest.raises(websockets.exceptions.ConnectionClosed) as e:
            for _ in range(10):
                ws.recv(timeout=10)
        assert e.value.rcvd.code == 1009
    _check(server.url, [("text", "{\"type\": \"nope\"}", "reject")])  # the server serves on


def test_deeply_nested_json_is_a_bad_json_error(server):
    """Found by ``bench/reliability/fuzz.py``: was a ``RecursionError`` (``internal``, connection closed)."""
    with connect(server.url) as ws:
        ws.send("[" * 5000)
        m = json.loads(ws.recv(timeout=10))
        assert m["type"] == "error" and m["code"] in WS_CODES, m
        ws.send(PROBE)
        assert json.loads(ws.recv(timeout=10))["code"] == "unknown_type"


def test_token_refuses_unauthenticated_connections_and_default_is_loopback():
    assert ServerOptions().host == "127.0.0.1"
    s = _ServerThread(token="s3cret")
    try:
        assert s.url.startswith("ws://127.0.0.1:")
        for url in (s.url, s.url + "?token=wrong", s.url + "?token="):
            with pytest.raises(websockets.exceptions.InvalidStatus) as e:
                with connect(url, open_timeout=5):
                    pass
            assert e.value.response.status_code == 401
        with pytest.raises(websockets.exceptions.InvalidStatus):
            with connect(s.url, additional_headers={"Authorization": "Bearer nope"}, open_timeout=5):
                pass
        WsChecker(s.url, token="s3cret").check([("text", "{\"type\": \"nope\"}", "reject")])
        with connect(s.url, additional_headers={"Authorization": "Bearer s3cret"}, open_timeout=5) as ws:
            ws.send(PROBE)
            assert json.loads(ws.recv(timeout=5))["code"] == "unknown_type"
    finally:
        s.stop()

"""The WebSocket door: protocol, robustness, equality with ``prosync score``, schemas."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from prosync.streams.websocket import (
    MetricsServer,
    ServerOptions,
    exposure_warning,
    read_stereo_pcm16,
    stream_audio,
)
from tests.audio import dialogue

websockets = pytest.importorskip("websockets")
from websockets.asyncio.client import connect  # noqa: E402

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "schemas"


# ------------------------------------------------------------------ schemas
def _validator():
    jsonschema = pytest.importorskip("jsonschema")
    from referencing import Registry, Resource

    docs = {p.stem: json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}
    reg = Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in docs.values())
    vals = {k: jsonschema.Draft202012Validator(d, registry=reg) for k, d in docs.items()}

    def validate(msg: dict):
        vals[msg["type"]].validate(msg)

    return validate


def test_schemas_are_valid_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    names = sorted(p.stem for p in SCHEMAS.glob("*.json"))
    assert names == ["error", "line", "metrics", "ready", "start", "stop", "summary"]
    for p in SCHEMAS.glob("*.json"):
        jsonschema.Draft202012Validator.check_schema(json.loads(p.read_text()))


# ------------------------------------------------------------------ server fixture
class _ServerThread:
    """A server on 127.0.0.1:<free port> in a thread with its own event loop."""

    def __init__(self, **kw):
        self.opts = ServerOptions(host="127.0.0.1", port=0, **kw)
        self.loop = asyncio.new_event_loop()
        self.srv = None
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.srv = self.loop.run_until_complete(MetricsServer(self.opts).start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10)
        self.url = self.srv.url

    def stop(self):
        asyncio.run_coroutine_threadsafe(self.srv.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def server():
    s = _ServerThread()
    yield s
    s.stop()


def _stereo(tmp_path, seconds=12.0, sr=16000) -> Path:
    a, b, _ = dialogue(sr=sr)
    n = int(seconds * sr)
    x = np.stack([a[:n], b[:n]], axis=1)
    p = tmp_path / "dialogue.wav"
    sf.write(p, x, sr, subtype="PCM_16")
    return p


def _collect(msgs):
    frames = [f for m in msgs if m["type"] == "metrics" for f in m["frames"]]
    turns = [t for m in msgs if m["type"] == "metrics" for t in m["turns"]]
    sync = [r for m in msgs if m["type"] == "metrics" for r in m["synchrony"]]
    pacing = [r for m in msgs if m["type"] == "metrics" for r in m["pacing"]]
    return frames, turns, sync, pacing


def _nan_eq(a, b):
    a = np.asarray([np.nan if v is None else v for v in a], dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ equality with score
def test_socket_metrics_equal_prosync_score(server, tmp_path):
    import pyarrow.parquet as pq

    from prosync.score import score

    path = _stereo(tmp_path)
    res = score([path], tmp_path / "out", speakers=["user", "agent"])
    pcm, sr = read_stereo_pcm16(path)
    validate = _validator()
    msgs = asyncio.run(stream_audio(server.url, pcm, sr, speed=0, block_ms=37))
    for m in msgs:
        validate(m)
    assert [m["type"] for m in msgs][0] == "ready"
    assert msgs[-1]["type"] == "summary" and msgs[-2].get("final")
    frames, turns, sync, _ = _collect(msgs)

    ft = pq.read_table(tmp_path / "out" / "frames.parquet").to_pandas()
    for spk in ("user", "agent"):
        got = [f for f in frames if f["speaker"] == spk]
        exp = ft[ft["speaker"] == spk]
        assert len(got) == len(exp) == int(round(12.0 / 0.01))
        for col in ("t_s", "f0_hz", "periodicity", "energy_db", "rate_sps", "nucleus_age"):
            _nan_eq([g[col] for g in got], exp[col].to_numpy())
        for col in ("voiced", "speech"):
            assert [g[col] for g in got] == exp[col].tolist()

    tt = pq.read_table(tmp_path / "out" / "turns.parquet").to_pylist()
    assert len(turns) == len(tt) > 4

    # the same events; their emission order within one update depends on the block sizes
    def key(e):
        return (e["start_s"], e["end_s"], e["kind"], e["speaker"])

    for g, e in zip(sorted(turns, key=key), sorted(tt, key=key)):
        assert g["kind"] == e["kind"] and g["speaker"] == e["speaker"]
        assert g["start_s"] == e["start_s"] and g["end_s"] == e["end_s"]
        _nan_eq([g["fto_s"]], [e["fto_s"]])

    st = pq.read_table(tmp_path / "out" / "synchrony.parquet").to_pylist()
    assert sync, "12 s gives synchrony windows"
    assert len(sync) == len(st)
    for g, e in zip(sync, st):
        assert g["feature"] == e["feature"] and g["t_s"] == e["t_s"]
        assert g["window_start_s"] == e["window_start_s"] and g["n_valid"] == e["n_valid"]
        # running sums: equal to rounding (1e-15), not bit for bit, across block sizes
        np.testing.assert_allclose(
            np.array([g["r_lag0"], g["r_peak"], g["lag_s"], g["z"]], dtype=float),
            np.array([e["r_lag0"], e["r_peak"], e["lag_s"], e["z"]], dtype=float),
            rtol=1e-9, atol=1e-12)

    summ = msgs[-1]
    for key in ("speakers", "turn_events", "fto_s", "entrainment"):
        assert summ[key] == json.loads(json.dumps(res.summary[key])), key
    # synchrony means: equal to the 4 decimals of summary.json, but for running-sum rounding
    for feat, v in res.summary["synchrony"].items():
        for k, x in v.items():
            y = summ["synchrony"][feat][k]
            if x is None or isinstance(x, (str, bool)):  # reasons, notes, significance
                assert x == y, (feat, k, x, y)
            else:
                assert y is not None and abs(x - y) <= 1e-4, (feat, k, x, y)


def test_end_of_turn_rows_over_the_socket_equal_the_engines(server, tmp_path):
    """Protocol 1.1: the end_of_turn and turn_end rows, with the threshold set in `start`, are
    the Session's own (validated against the JSON Schemas)."""
    from prosync import Session
    from prosync.engine.config import Config, EndOfTurnConfig

    path = _stereo(tmp_path)
    pcm, sr = read_stereo_pcm16(path)
    validate = _validator()
    msgs = asyncio.run(stream_audio(server.url, pcm, sr, speed=0, block_ms=37, start={
        "config": {"end_of_turn": {"threshold": 0.3}}}))
    for m in msgs:
        validate(m)
    got = [r for m in msgs if m["type"] == "metrics" for r in m["end_of_turn"]]
    te = [r for m in msgs if m["type"] == "metrics" for r in m["turn_end"]]
    s = Session(("user", "agent"), sample_rate=sr,
                config=Config(end_of_turn=EndOfTurnConfig(threshold=0.3)))
    ups = [s.push(0, pcm[:, 0]), s.push(1, pcm[:, 1]), s.close()]
    exp = np.concatenate([u.end_of_turn for u in ups])
    exp_te = [e for u in ups for e in u.turn_end]
    assert len(got) == len(exp) > 100 and len(te) == len(exp_te) >= 1
    np.testing.assert_array_equal([r["t_s"] for r in got], exp["t_s"])
    np.testing.assert_allclose([r["turn_end_prob"] for r in got], exp["turn_end_prob"],
                               rtol=1e-6)
    assert [r["latency_s"] for r in te] == [e.latency_s for e in exp_te]
    assert all(r["turn_end_prob"] >= 0.3 for r in te)


def test_socket_metrics_carry_the_session_test(server):
    """Protocol 1.2: the session-level test (every 15 s of stream time, off the pushing thread)
    comes as `session_sync` rows of `metrics`, null where there is no test, equal to
    `session_test` on the session's series up to the row's time."""
    from prosync import Session
    from prosync.engine.session_sync import session_test

    a, b, _ = dialogue()
    pcm = (np.stack([np.tile(a, 9), np.tile(b, 9)], axis=1) * 32767).astype(np.int16)  # 108 s
    validate = _validator()
    msgs = asyncio.run(stream_audio(server.url, pcm, 16000, speed=0, block_ms=100,
                                    start={"frames": False}))
    for m in msgs:
        validate(m)
    rows = [r for m in msgs if m["type"] == "metrics" for r in m["session_sync"]]
    times = sorted({r["t_s"] for r in rows})
    assert len(rows) == 4 * len(times) and len(times) >= 2 and times[-1] > 96, times
    assert all(r["p"] is None and "too short" in r["note"] for r in rows if r["t_s"] < 90)
    s = Session(("user", "agent"))
    for i in range(0, len(pcm), 16000):
        s.push(0, pcm[i:i + 16000, 0])
        s.push(1, pcm[i:i + 16000, 1])
    s.close()
    for r in (r for r in rows if r["t_s"] == times[-1]):
        n = int(round(r["t_s"] * 10))
        x, y, r1, r2 = (None if v is None else v[:n] for v in s.synchrony_series(r["feature"]))
        want = session_test(x, y, s.config.sync, feature=r["feature"], raw1=r1, raw2=r2)

        def j(v):  # the stream's null for a missing value
            return None if v != v else v
        assert r["p"] == j(want.p) and r["r"] == j(want.r)
        assert r["n_surrogates"] == want.n_surrogates
    assert any(r["feature"] == "vad" and r["p"] is not None for r in rows)


def test_messages_are_strict_json_with_nulls(server, tmp_path):
    """Every text the server sends parses with NaN/Infinity tokens refused; missing values (a
    silent agent: no F0, no rate) arrive as null; times print as exact milliseconds."""
    pcm, sr = read_stereo_pcm16(_stereo(tmp_path, seconds=4.0))
    pcm[:, 1] = 0

    def strict(tok):
        raise AssertionError(f"non-JSON number {tok} sent")

    async def run():
        texts = []
        async with connect(server.url) as ws:
            await ws.send(json.dumps({"type": "start", "sample_rate": sr}))
            for i in range(0, len(pcm), sr // 5):
                for spk in (0, 1):
                    await ws.send(bytes([spk]) + pcm[i:i + sr // 5, spk].astype("<i2").tobytes())
            await ws.send(json.dumps({"type": "stop"}))
            async for text in ws:
                texts.append(text)
        return texts

    texts = asyncio.run(run())
    msgs = [json.loads(t, parse_constant=strict) for t in texts]
    assert msgs[-1]["type"] == "summary"
    frames, turns, _, pacing = _collect(msgs)
    agent = [f for f in frames if f["speaker"] == "agent"]
    assert agent and all(f["f0_hz"] is None for f in agent)
    assert all(f["t_s"] == round(f["t_s"], 3) for f in frames)
    assert any(v is None for r in pacing for v in r.values())
    assert any(t["speaker"] is None or t["speaker_before"] is None for t in turns)


def test_metrics_interval_and_frames_off(server, tmp_path):
    pcm, sr = read_stereo_pcm16(_stereo(tmp_path, seconds=3.0))
    msgs = asyncio.run(stream_audio(server.url, pcm, sr, speed=0, block_ms=10,
                                    start={"metrics_interval_ms": 500, "frames": False}))
    met = [m for m in msgs if m["type"] == "metrics"]
    assert all(m["frames"] == [] for m in met)
    ts = [m["t_s"] for m in met[:-1]]
    # one message per 500 ms of stream time (plus the final one)
    assert len(ts) == 5 and all(abs(t % 0.5) < 0.02 or abs(t % 0.5 - 0.5) < 0.02 for t in ts)
    assert met[-1]["final"] and met[-1]["received_s"] == [3.0, 3.0]
    assert met[-1]["advice"] is not None


@pytest.mark.parametrize("sr", [16000, 44100])
def test_coalesced_audio_gives_the_same_messages(server, tmp_path, monkeypatch, sr):
    """Audio waiting for the next metrics message changes nothing the client sees: the same
    messages, sent on the same received audio (at 16 kHz; resampled input may leave one block
    later, as the resampler holds samples back)."""
    import prosync.streams.ws_server as wsmod

    pcm, _ = read_stereo_pcm16(_stereo(tmp_path, seconds=4.0, sr=sr))

    def run():
        msgs = asyncio.run(stream_audio(server.url, pcm, sr, speed=0, block_ms=20))
        return [{k: v for k, v in m.items() if k != "compute_ms"} for m in msgs
                if m["type"] == "metrics"]

    coalesced = run()
    monkeypatch.setattr(wsmod, "COALESCE", False)
    each = run()
    assert len(coalesced) == len(each) > 30
    if sr == 16000:
        assert coalesced == each
    else:
        strip = [{k: v for k, v in m.items() if k != "received_s"} for m in coalesced]
        assert strip == [{k: v for k, v in m.items() if k != "received_s"} for m in each]
        late = [a["received_s"][0] - b["received_s"][0] for a, b in zip(coalesced, each)]
        assert all(0 <= d <= 0.0201 for d in late)


def test_high_rate_audio_is_resampled(server, tmp_path):
    pcm, sr = read_stereo_pcm16(_stereo(tmp_path, seconds=2.0, sr=48000))
    msgs = asyncio.run(stream_audio(server.url, pcm, sr, speed=0, block_ms=20))
    frames, *_ = _collect(msgs)
    assert len(frames) == 2 * 200


def test_metrics_body_equals_update_to_dict_of_the_merge():
    from prosync.agent import AgentSession, merge_updates
    from prosync.streams.jsonl import update_to_dict
    from prosync.streams.websocket import metrics_body

    a, b, _ = dialogue()
    ag = AgentSession(16000, pad_agent=False)
    ups = []
    for i in range(0, 11 * 16000, 480):
        ups.append(ag.push_user(a[i:i + 480]))
        ups.append(ag.push_agent(b[i:i + 480]))
    ups.append(ag.close())
    n_checked = 0
    for k in range(0, len(ups), 7):
        part = [u for u in ups[k:k + 7] if u]
        exp = json.dumps(update_to_dict(merge_updates(part)), allow_nan=False)
        assert json.dumps(metrics_body(part), allow_nan=False) == exp
        n_checked += bool(part)
    assert n_checked > 100
    assert any(u.synchrony for u in ups) and any(u.events for u in ups)
    assert metrics_body(ups[:5], frames=False)["frames"] == []


# ------------------------------------------------------------------ robustness
async def _recv_json(ws, timeout=5.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


def test_protocol_errors_keep_the_connection_and_others_served(server):
    validate = _validator()

    async def go():
        other = await connect(server.url)
        async with connect(server.url) as ws:
            cases = [
                ("{not json", "bad_json"),
                ('["start"]', "bad_message"),
                ('{"type": "hello"}', "unknown_type"),
                (b"\x00\x01\x02", "not_started"),
                ('{"type": "stop"}', "not_started"),
                ('{"type": "start", "sample_rate": 4000}', "bad_start"),
                ('{"type": "start", "sample_rate": 16000, "speakers": ["a"]}', "bad_start"),
                ('{"type": "start", "sample_rate": 16000, "colour": 1}', "bad_start"),
                ('{"type": "start", "sample_rate": 16000, "config": {"turns": {"x": 1}}}', "bad_start"),
                ('{"type": "start", "sample_rate": 16000, "protocol_version": "2.0"}', "bad_start"),
                ('{"type": "start", "sample_rate": 16000, "preset": "fast"}', "bad_start"),
                ('{"type": "start", "sample_rate": 16000, "preset": 3}', "bad_start"),
                ('{"type": "start", "sample_rate": 16000, "preset": "research", '
                 '"config": {"sync": {"window_s": 12}}}', "bad_start"),
            ]
            for msg, code in cases:
                await ws.send(msg)
                m = await _recv_json(ws)
                validate(m)
                assert m["type"] == "error" and m["code"] == code, (msg, m)
            await ws.send(json.dumps({"type": "start", "sample_rate": 16000,
                                      "config": {"turns": {"ipu_bridge_s": 0.2}}}))
            m = await _recv_json(ws)
            validate(m)
            assert m["type"] == "ready"
            for msg, code in [
                (json.dumps({"type": "start", "sample_rate": 16000}), "already_started"),
                (b"\x02" + b"\x00" * 320, "bad_speaker"),
                (b"\x00" + b"\x00" * 321, "odd_bytes"),
                (b"", "bad_audio"),
                (b"\x00" + b"\x00" * (300 * 1024), "too_big"),
                ("x" * (300 * 1024), "too_big"),
            ]:
                await ws.send(msg)
                m = await _recv_json(ws)
                validate(m)
                assert m["type"] == "error" and m["code"] == code, (msg[:20], m)
            # still serving: audio, then stop -> metrics and summary, then a normal close
            silence = np.zeros(1600, "<i2").tobytes()
            for _ in range(5):
                await ws.send(b"\x00" + silence)
                await ws.send(b"\x01" + silence)
            await ws.send('{"type": "stop"}')
            got = [json.loads(t) async for t in ws]
            for m in got:
                validate(m)
            assert got[-1]["type"] == "summary"
            assert sum(len(m["frames"]) for m in got if m["type"] == "metrics") == 2 * 50
        # the other connection was served all along
        await other.send('{"type": "start", "sample_rate": 8000}')
        assert (await _recv_json(other))["type"] == "ready"
        await other.close()

    asyncio.run(go())


def test_way_oversized_message_closes_only_that_connection(server):
    async def go():
        async with connect(server.url) as ws:
            await ws.send(b"\x00" * (4 * 256 * 1024 + 10))
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1009
        async with connect(server.url) as ws:
            await ws.send('{"type": "start", "sample_rate": 16000}')
            assert (await _recv_json(ws))["type"] == "ready"

    asyncio.run(go())


def test_vanished_client_frees_its_session(server):
    async def go():
        for _ in range(200):  # connections of earlier tests may still be closing
            if server.srv.active == 0:
                break
            await asyncio.sleep(0.02)
        base = server.srv.active
        ws = await connect(server.url)
        await ws.send('{"type": "start", "sample_rate": 16000}')
        await _recv_json(ws)
        await ws.send(b"\x00" + np.zeros(1600, "<i2").tobytes())
        assert server.srv.active == base + 1
        ws.transport.abort()  # no close handshake: the client is just gone
        for _ in range(100):
            if server.srv.active == base:
                break
            await asyncio.sleep(0.02)
        assert server.srv.active == base

    asyncio.run(go())


def test_slow_client_drops_oldest_metrics_and_never_stalls_audio():
    srv = _ServerThread(queue_size=4, write_limit=1024)
    try:
        async def go():
            # a small receive buffer and a client that does not read for a while
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", srv.srv.port))
            ws = await connect(srv.url, sock=sock, max_queue=1)
            await ws.send(json.dumps({"type": "start", "sample_rate": 16000,
                                      "metrics_interval_ms": 0}))
            a, b, _ = dialogue()
            pa = (a * 32767).astype("<i2")
            pb = (b * 32767).astype("<i2")
            t0 = time.perf_counter()
            for i in range(0, len(pa), 160):
                await ws.send(b"\x00" + pa[i:i + 160].tobytes())
                await ws.send(b"\x01" + pb[i:i + 160].tobytes())
            await ws.send('{"type": "stop"}')
            send_s = time.perf_counter() - t0
            await asyncio.sleep(0.5)
            msgs = [json.loads(t) async for t in ws]
            return msgs, send_s

        msgs, send_s = asyncio.run(go())
    finally:
        srv.stop()
    met = [m for m in msgs if m["type"] == "metrics"]
    assert msgs[-1]["type"] == "summary"
    dropped = sum(m["dropped"] for m in met)
    assert dropped > 0 and msgs[-1]["dropped_total"] == dropped
    # every message is accounted for: seq gaps are exactly the drops
    seqs = [m["seq"] for m in met]
    assert seqs[-1] == len(met) + dropped
    # the audio was all processed (the final message covers it all)
    assert met[-1]["received_s"] == [12.0, 12.0]
    assert send_s < 30


def test_token_refuses_connections_without_it():
    srv = _ServerThread(token="s3cret")
    try:
        async def go():
            with pytest.raises(websockets.exceptions.InvalidStatus) as ei:
                await connect(srv.url)
            assert ei.value.response.status_code == 401
            with pytest.raises(websockets.exceptions.InvalidStatus):
                await connect(srv.url + "?token=wrong")
            async with connect(srv.url + "?token=s3cret") as ws:
                await ws.send('{"type": "start", "sample_rate": 16000}')
                assert (await _recv_json(ws))["type"] == "ready"
            async with connect(srv.url, additional_headers={"Authorization": "Bearer s3cret"}) as ws:
                await ws.send('{"type": "start", "sample_rate": 16000}')
                assert (await _recv_json(ws))["type"] == "ready"

        asyncio.run(go())
    finally:
        srv.stop()


def test_max_sessions_refuses_with_503():
    srv = _ServerThread(max_sessions=1)
    try:
        async def go():
            async with connect(srv.url):
                with pytest.raises(websockets.exceptions.InvalidStatus) as ei:
                    await connect(srv.url)
                assert ei.value.response.status_code == 503

        asyncio.run(go())
    finally:
        srv.stop()


def test_non_local_binding_without_token_warns():
    assert exposure_warning(ServerOptions(host="127.0.0.1")) is None
    assert exposure_warning(ServerOptions(host="localhost")) is None
    assert exposure_warning(ServerOptions(host="::1")) is None
    assert "without token=" in exposure_warning(ServerOptions(host="0.0.0.0"))
    assert exposure_warning(ServerOptions(host="0.0.0.0", token="t")) is None


def test_bad_server_options_are_user_errors():
    from prosync.engine.errors import ProsyncError

    with pytest.raises(ProsyncError, match="max_message_bytes=10 is too small"):
        ServerOptions(max_message_bytes=10).validate()
    with pytest.raises(ProsyncError, match="fixed port="):
        ServerOptions(port=0, workers=2).validate()
    with pytest.raises(ProsyncError, match="preset 'fast' is unknown"):
        ServerOptions(preset="fast").validate()


def test_serve_errors_name_the_flags(capsys):
    """The library names its parameters; ``prosync serve`` shows its flags."""
    from prosync.cli import main

    assert main(["serve", "--port", "0", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "--workers 2 needs a fixed --port" in err and "port=" not in err


# ------------------------------------------------------------------ the reference client
def test_stream_command_prints_metrics_and_summary(server, tmp_path, capsys):
    from prosync.cli import main

    path = _stereo(tmp_path, seconds=3.0)
    assert main(["stream", str(path), "--url", server.url, "--speed", "0"]) == 0
    out = capsys.readouterr().out
    assert "reply" in out and "summary user:" in out and "floor transfers" in out
    assert main(["stream", str(path), "--url", server.url, "--speed", "0", "--jsonl"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0]["type"] == "ready" and lines[-1]["type"] == "summary"


def test_stream_command_user_errors(tmp_path, capsys):
    from prosync.cli import main

    path = _stereo(tmp_path, seconds=1.0)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["stream", str(path), "--url", f"ws://127.0.0.1:{port}"]) == 2
    assert "cannot connect" in capsys.readouterr().err
    assert main(["stream", str(tmp_path / "nope.wav"), "--url", "ws://127.0.0.1:1"]) == 2
    assert main(["stream", str(path), "--url", "http://x", "--speed", "0"]) == 2


def test_stream_command_token_refused(tmp_path, capsys):
    from prosync.cli import main

    srv = _ServerThread(token="t0k")
    try:
        path = _stereo(tmp_path, seconds=1.0)
        assert main(["stream", str(path), "--url", srv.url, "--speed", "0"]) == 2
        assert "HTTP 401" in capsys.readouterr().err
        assert main(["stream", str(path), "--url", srv.url, "--speed", "0", "--token", "t0k"]) == 0
    finally:
        srv.stop()


def test_freed_memory_is_handed_back(monkeypatch):
    """The server's trimming task calls glibc's malloc_trim on its interval (Linux)."""
    import sys as _sys

    import prosync.streams.ws_serve as wsmod

    trim = wsmod._malloc_trim()
    if not _sys.platform.startswith("linux"):
        pytest.skip("malloc_trim is glibc's")
    assert trim is not None and trim(0) in (0, 1)
    calls = []
    monkeypatch.setattr(wsmod, "TRIM_INTERVAL_S", 0.01)
    monkeypatch.setattr(wsmod, "_malloc_trim", lambda: (lambda pad: calls.append(pad) or 1))

    async def run():
        t = asyncio.create_task(wsmod._trim_memory())
        await asyncio.sleep(0.1)
        t.cancel()

    asyncio.run(run())
    assert len(calls) >= 3 and set(calls) == {0}


def test_serve_logs_connections_and_refusals_with_verbose(tmp_path):
    """``prosync -v serve``: standard logging lines for an accepted connection and a refused one."""
    import os
    import signal
    import subprocess
    import sys

    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect as sync_connect

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "prosync.cli", "-v", "serve", "--port", "0",
                             "--token", "s3cret"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = []
        while True:
            line = proc.stderr.readline()
            assert line, "server exited: " + "".join(lines)
            lines.append(line)
            if "serving on ws://" in line:
                url = line.split("serving on ")[1].split()[0]
                break
        with pytest.raises(InvalidStatus):
            sync_connect(f"{url}/?token=wrong", open_timeout=20)
        with sync_connect(f"{url}/?token=s3cret", open_timeout=20) as ws:
            ws.send(json.dumps({"type": "stop"}))
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rest = proc.communicate(timeout=30)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            rest = proc.communicate()[1]
    log = "".join(lines) + rest
    assert "WARNING prosync.serve: refused 127.0.0.1:" in log and "wrong token (401)" in log
    assert "INFO prosync.serve: connection from 127.0.0.1:" in log and "closed (0 open)" in log


def test_logging_configure_is_idempotent():
    import logging

    from prosync.engine.logs import configure

    configure("WARNING")
    assert logging.getLogger("prosync").level == logging.WARNING
    configure("DEBUG")
    assert logging.getLogger("prosync").level == logging.DEBUG
    assert sum(getattr(h, "_prosync", False) for h in logging.getLogger("prosync").handlers) == 1
    configure("WARNING")


def test_preset_from_the_client_or_the_server(server, tmp_path):
    """``"preset"`` in ``start`` picks the synchrony settings; without it the server's
    ``--preset`` does; the summary names the one used."""
    pcm, sr = read_stereo_pcm16(_stereo(tmp_path, seconds=3.0))

    def preset_of(url, start):
        msgs = asyncio.run(stream_audio(url, pcm, sr, speed=0, start=start))
        summary = [m for m in msgs if m["type"] == "summary"][0]
        return summary["settings"]["preset"], summary["settings"]["sync"]["window_s"]

    assert preset_of(server.url, {}) == ("live", 8.0)
    assert preset_of(server.url, {"preset": "research"}) == ("research", 30.0)
    research = _ServerThread(preset="research")
    try:
        assert preset_of(research.url, {}) == ("research", 30.0)
        assert preset_of(research.url, {"preset": "live"}) == ("live", 8.0)
        custom = {"config": {"sync": {"window_s": 12.0}}}  # the client's own settings win
        assert preset_of(research.url, custom) == ("custom", 12.0)
    finally:
        research.stop()

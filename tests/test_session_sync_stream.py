"""The session-level synchrony test in the metric stream: with ``session_test_every_s`` the duplex
driver runs it off the pushing thread and its rows ride on the updates (``Update.session_sync``),
to JSONL ``session_sync`` lines and the WebSocket ``metrics`` message; off (offline) it never runs."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

import prosync
from prosync.engine.duplex import Duplex
from prosync.engine.session_sync import session_note, session_test
from prosync.engine.synchrony import FEATURES
from prosync.streams.jsonl import JsonlSink
from prosync.streams.ws_protocol import metrics_message
from tests.audio import dialogue

REPS = 9  # 108 s of the test dialogue: past the session test's 96 s


@pytest.fixture(scope="module")
def streamed():
    a, b, _ = dialogue()
    a, b = np.tile(a, REPS), np.tile(b, REPS)
    out = io.StringIO()
    d = Duplex(prosync.Session(("client", "coach")), sinks=[JsonlSink(out)],
               session_test_every_s=50.0)
    ups = []
    for i in range(0, len(a), 16000):
        ups += [d.push(0, a[i:i + 16000]), d.push(1, b[i:i + 16000])]
    ups.append(d.close())
    return d, ups, out.getvalue()


def _same(x, y) -> bool:
    return x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))


def test_rows_equal_the_session_test_on_the_series_at_their_time(streamed):
    d, ups, _ = streamed
    rows = [r for u in ups for r in u.session_sync]
    times = sorted({r.t_s for r in rows})
    # one test from 50 s of audio (too short), the next from 100 s, which close() waited for;
    # each covers the series final by then (the look-ahead and the 100 ms bins behind)
    assert len(times) == 2 and 47 < times[0] <= 50 and 97 < times[1] <= 100, times
    assert [r.feature for r in rows] == list(FEATURES) * 2
    cfg = d.session.config.sync
    for r in rows:
        n = int(round(r.t_s * cfg.rate_hz))
        a, b, r1, r2 = d.session.synchrony_series(r.feature)
        want = session_test(a[:n], b[:n], cfg, feature=r.feature,
                            raw1=None if r1 is None else r1[:n],
                            raw2=None if r2 is None else r2[:n])
        assert want.duration_s == pytest.approx(r.t_s)
        for k in ("r", "p", "r_crit", "units", "n_surrogates"):
            assert _same(getattr(r, k), getattr(want, k)), (r, want, k)
        assert _same(r.lag_s, round(want.lag_s, 3))
        assert r.note == (session_note(want, "live") or "")
    first = [r for r in rows if r.t_s == times[0]]
    assert all(math.isnan(r.p) and "too short" in r.note for r in first)
    last = {r.feature: r for r in rows if r.t_s == times[1]}
    assert math.isfinite(last["vad"].p) and 0 < last["vad"].p <= 1
    assert last["vad"].n_surrogates >= 19


def test_off_by_default_no_rows_and_no_tester():
    a, b, _ = dialogue()
    d = Duplex(prosync.Session(("client", "coach")))
    assert d._tests is None  # the per-push cost when off: this one check
    ups = [d.feed([a[i:i + 8000], b[i:i + 8000]]) for i in range(0, len(a), 8000)]
    ups.append(d.close())
    assert not any(u.session_sync for u in ups)


def test_jsonl_session_sync_lines_validate_with_nulls(streamed):
    jsonschema = pytest.importorskip("jsonschema")
    from prosync.engine.schema_gen import jsonl_json

    _, _, text = streamed
    v = jsonschema.Draft202012Validator(jsonl_json())
    lines = [json.loads(ln) for ln in text.splitlines()]
    sess = [ln for ln in lines if ln["type"] == "session_sync"]
    assert len(sess) == 2 * len(FEATURES)
    for ln in sess:
        v.validate(ln)
    assert "NaN" not in text
    short = [ln for ln in sess if ln["t_s"] < 60]
    assert all(ln["p"] is None and ln["r"] is None and "too short" in ln["note"] for ln in short)
    vad = [ln for ln in sess if ln["t_s"] > 60 and ln["feature"] == "vad"][0]
    assert isinstance(vad["p"], float) and isinstance(vad["r"], float)


def test_websocket_metrics_carry_the_rows_and_validate(streamed):
    from tests.test_websocket import _validator

    check = _validator()

    def validate(msg):
        check({**msg, "dropped": 0})  # the server's send queue adds it
    _, ups, _ = streamed
    with_rows = [u for u in ups if u.session_sync]
    assert with_rows
    msg = json.loads(metrics_message(1, 108.0, [108.0, 108.0], 0.0, with_rows, False, None,
                                     False))
    validate(msg)
    assert [r["feature"] for r in msg["session_sync"]] == list(FEATURES) * 2
    assert msg["session_sync"][0]["p"] is None
    plain = json.loads(metrics_message(2, 1.0, [1.0, 1.0], 0.0, ups[:3], True, None, False))
    validate(plain)
    assert plain["session_sync"] == []

"""The WebSocket protocol's messages (``docs/PROTOCOL.md``): parsing what a client sends,
building what the server sends. No I/O here: :mod:`prosync.streams.ws_server` and
:mod:`prosync.streams.ws_client` move the messages.

Client → server: a JSON ``start`` message, then binary audio messages (byte 0 = speaker index,
then mono PCM16 little-endian samples), then a JSON ``stop``. Server → client: ``ready``,
``metrics`` (the offline tables' fields, every ``metrics_interval_ms`` of stream time),
``error`` (the connection stays open) and, after ``stop``, ``summary`` before a normal close.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np

from ..engine.config import Config
from ..engine.errors import ProsyncError
from ..engine.schema import PROTOCOL_VERSION, SCHEMA_VERSION
from .arrow import json_rows, rows_batch
from .jsonl import updates_to_dict

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
START_KEYS = {"type", "protocol_version", "sample_rate", "speakers", "metrics_interval_ms", "frames",
              "pad_agent", "two_mics", "config", "preset"}


class ProtocolError(ProsyncError):
    """A client message the server refuses: ``code`` and ``message`` of the ``error`` reply."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def dumps(obj) -> str:
    return json.dumps(obj, allow_nan=False, separators=(",", ":"))


def metrics_body(updates, frames: bool = True) -> dict:
    """The rows of consecutive updates: :func:`prosync.streams.jsonl.updates_to_dict`."""
    return updates_to_dict(updates, frames)


def _config_from(d) -> Config:
    """``{"turns": {"ipu_bridge_s": 0.2}, ...}`` over the defaults; names checked."""
    if not isinstance(d, dict):
        raise ProsyncError("config must be an object of sections, e.g. {\"turns\": {\"ipu_bridge_s\": 0.2}}")
    base = Config()
    sections = {f.name: f for f in dataclasses.fields(Config)}
    kw = {}
    for sec, vals in d.items():
        if sec not in sections:
            raise ProsyncError(f"config section {sec!r} is unknown: use {', '.join(sections)}")
        cur = getattr(base, sec)
        names = {f.name for f in dataclasses.fields(cur)}
        if not isinstance(vals, dict) or set(vals) - names:
            bad = sorted(set(vals) - names) if isinstance(vals, dict) else vals
            raise ProsyncError(f"config.{sec} has unknown fields {bad}: use {', '.join(sorted(names))}")
        try:
            kw[sec] = dataclasses.replace(cur, **vals)
        except TypeError as exc:
            raise ProsyncError(f"config.{sec}: {exc}") from None
    return Config(**kw).validate()



@dataclass
class Start:
    """A valid ``start`` message."""

    sample_rate: int
    speakers: list[str]
    metrics_interval_ms: float
    frames: bool
    pad_agent: bool
    two_mics: bool
    config: Config | None
    #: The synchrony preset the client named (already applied to ``config``), or None.
    preset: str | None = None


def parse_text(text: str, max_bytes: int) -> dict:
    """A text message as a JSON object with a string ``type`` (or :class:`ProtocolError`)."""
    if len(text) > max_bytes:
        raise ProtocolError("too_big", f"message of {len(text)} bytes is over the limit of "
                            f"{max_bytes}: split it")
    try:
        msg = json.loads(text)
    except ValueError as exc:
        where = f" ({exc.msg} at character {exc.pos})" if hasattr(exc, "pos") else ""
        raise ProtocolError("bad_json", f"malformed JSON{where}: send one JSON object per text "
                            "message") from None
    except RecursionError:
        raise ProtocolError("bad_json", "JSON nested too deeply: send one flat JSON object per "
                            "text message") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("bad_message", "a text message must be a JSON object with a string "
                            "\"type\"")
    return msg


def parse_start(msg: dict) -> Start:
    """Check a ``start`` message (:class:`ProtocolError` ``bad_start`` naming the field)."""
    try:
        extra = set(msg) - START_KEYS
        if extra:
            raise ProsyncError(f"start has unknown fields {sorted(extra)}: use "
                               f"{', '.join(sorted(START_KEYS - {'type'}))}")
        pv = msg.get("protocol_version", PROTOCOL_VERSION)
        if not isinstance(pv, str) or pv.split(".")[0] != PROTOCOL_VERSION.split(".")[0]:
            raise ProsyncError(f"protocol_version {pv!r} is not supported: this server speaks "
                               f"{PROTOCOL_VERSION}")
        sr = msg.get("sample_rate")
        if not isinstance(sr, int) or isinstance(sr, bool) or not 8000 <= sr <= 384000:
            raise ProsyncError(f"sample_rate {sr!r} is invalid: give an integer from 8000 to 384000")
        speakers = msg.get("speakers", ["user", "agent"])
        if (not isinstance(speakers, list) or len(speakers) != 2
                or not all(isinstance(s, str) and s for s in speakers)):
            raise ProsyncError(f"speakers {speakers!r} is invalid: give two names, user first")
        iv = msg.get("metrics_interval_ms", 100)
        if not isinstance(iv, (int, float)) or isinstance(iv, bool) or not 0 <= iv <= 60000:
            raise ProsyncError(f"metrics_interval_ms {iv!r} is invalid: use 0 (every update) "
                               "to 60000")
        flags = {}
        for k, default in (("frames", True), ("pad_agent", False), ("two_mics", True)):
            v = msg.get(k, default)
            if not isinstance(v, bool):
                raise ProsyncError(f"{k} {v!r} is invalid: use true or false")
            flags[k] = v
        config = _config_from(msg["config"]) if "config" in msg else None
        preset = msg.get("preset")
        if preset is not None:
            if not isinstance(preset, str):
                raise ProsyncError(f"preset {preset!r} is invalid: give a preset name such as "
                                   "\"live\" or \"research\"")
            config = (config or Config()).with_preset(preset)
    except ProtocolError:
        raise
    except ProsyncError as exc:
        raise ProtocolError("bad_start", str(exc)) from None
    return Start(sr, speakers, iv, flags["frames"], flags["pad_agent"], flags["two_mics"], config,
                 preset)


def parse_audio(data: bytes, max_bytes: int) -> tuple[int, np.ndarray]:
    """A binary message as ``(speaker index, int16 samples)`` (or :class:`ProtocolError`)."""
    n = len(data)
    if n > max_bytes:
        raise ProtocolError("too_big", f"audio message of {n} bytes is over the limit of "
                            f"{max_bytes}: send shorter blocks (e.g. 20 ms)")
    if n < 1:
        raise ProtocolError("bad_audio", "empty binary message: byte 0 must be the speaker index")
    spk = data[0]
    if spk > 1:
        raise ProtocolError("bad_speaker", f"speaker index {spk} is invalid: byte 0 must be 0 "
                            "(user) or 1 (agent)")
    if (n - 1) % 2:
        raise ProtocolError("odd_bytes", f"audio message has {n - 1} PCM bytes, an odd number: "
                            "send whole 16-bit samples (the message was ignored)")
    return spk, np.frombuffer(data, dtype="<i2", offset=1)


def error_message(code: str, message: str) -> str:
    return dumps({"type": "error", "code": code, "message": message})


def ready_message(start: Start, speakers, lookahead_s: float, max_message_bytes: int) -> str:
    return dumps({
        "type": "ready", "protocol_version": PROTOCOL_VERSION, "schema_version": SCHEMA_VERSION,
        "sample_rate": start.sample_rate, "speakers": list(speakers), "lookahead_s": lookahead_s,
        "hop_s": 0.01, "metrics_interval_ms": start.metrics_interval_ms,
        "max_message_bytes": max_message_bytes,
    })


def advice_json(pace) -> dict:
    """A pacing row as the JSON ``advice`` of a metrics message."""
    return json_rows(rows_batch("pacing", [pace]))[0]


def metrics_message(seq: int, t_end: float, received_s: list, compute_s: float, updates,
                    frames: bool, advice: dict | None, final: bool) -> str:
    """``advice``: the latest pacing row's JSON (:func:`advice_json`) or None."""
    msg = {"type": "metrics", "seq": seq, "t_s": round(t_end, 3), "received_s": received_s,
           "compute_ms": round(compute_s * 1000, 3), **metrics_body(updates, frames),
           "advice": advice}
    if final:
        msg["final"] = True
    return dumps(msg)


def summary_message(summary: dict) -> str:
    return dumps({"type": "summary", "protocol_version": PROTOCOL_VERSION,
                  "schema_version": SCHEMA_VERSION, **summary})

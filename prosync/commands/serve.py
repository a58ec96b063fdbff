"""``prosync serve`` (the WebSocket metrics server) and ``prosync stream`` (its reference client)."""

from __future__ import annotations

import json
import math
import sys

from prosync.commands._util import add_preset
from prosync.engine.errors import ProsyncError


def register(sub) -> None:
    s = sub.add_parser("serve", help="serve live metrics over WebSocket (one connection = one session)",
                       description="WebSocket server: protocol in docs/PROTOCOL.md.")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free port)")
    s.add_argument("--token", help="refuse connections that do not give this token (?token=...)")
    s.add_argument("--max-message-bytes", type=int, default=256 * 1024,
                   help="larger messages get an error and are ignored (default 262144)")
    s.add_argument("--queue", type=int, default=64,
                   help="outgoing messages held per slow client before the oldest metrics are "
                        "dropped (default 64)")
    s.add_argument("--max-sessions", type=int, default=0,
                   help="concurrent sessions per worker; more are refused (default 0: no limit)")
    s.add_argument("--workers", type=int, default=1,
                   help="worker processes sharing the port, e.g. one per core (default 1)")
    add_preset(s, default_help="live, for sessions whose start message names none")
    s.set_defaults(func=cmd_serve)

    c = sub.add_parser("stream", help="stream a stereo file to a prosync server and print the metrics",
                       description="Reference client: channel 1 = user, channel 2 = agent.")
    c.add_argument("file", help="stereo audio file (mono: user only)")
    c.add_argument("--url", default="ws://127.0.0.1:8765", help="server URL (default ws://127.0.0.1:8765)")
    c.add_argument("--speed", type=float, default=1.0,
                   help="1 = real time (default), 2 = twice as fast, 0 = as fast as possible")
    c.add_argument("--token", help="the server's token")
    c.add_argument("--block-ms", type=float, default=20.0, help="audio per message (default 20 ms)")
    c.add_argument("--interval-ms", type=float, default=100.0,
                   help="metrics every this much stream time (default 100; 0: every update)")
    c.add_argument("--jsonl", action="store_true", help="print every message as one JSON line")
    add_preset(c, default=None, default_help="the server's")
    c.set_defaults(func=cmd_stream)


def cmd_serve(args) -> int:
    from prosync.cli import cli_message
    from prosync.streams.websocket import ServerOptions, serve

    opts = ServerOptions(host=args.host, port=args.port, token=args.token,
                         max_message_bytes=args.max_message_bytes, queue_size=args.queue,
                         max_sessions=args.max_sessions, workers=args.workers, preset=args.preset)
    serve(opts, announce=lambda m: print(cli_message(m), file=sys.stderr, flush=True))
    return 0


def _fmt(v, spec):
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def print_message(m: dict, out=None) -> None:
    """One readable line per message (metrics: time, who speaks, advice, new turn events)."""
    out = out or sys.stdout
    kind = m.get("type")
    if kind == "metrics":
        fr = {}
        for row in m["frames"]:
            fr[row["speaker"]] = row
        speaking = "/".join(("S" if r["speech"] else ".") for r in fr.values()) or "-"
        a = m.get("advice") or {}
        line = (f"{m['t_s']:8.2f}s  speech {speaking:5s}"
                f" reply {_fmt(a.get('reply_delay_ms'), '.0f'):>5s} ms"
                f"  rate {_fmt(a.get('target_rate_sps'), '.1f'):>4s} syl/s"
                f"  loud {_fmt(a.get('loudness_offset_db'), '+.1f'):>5s} dB"
                f"  f0 {_fmt(a.get('f0_offset_st'), '+.1f'):>5s} st")
        for e in m["turns"]:
            if e["kind"] != "ipu":
                fto = "" if e["fto_s"] is None else f" fto {e['fto_s'] * 1000:+.0f} ms"
                before, after = e["speaker_before"] or "", e["speaker_after"] or ""  # null: an edge
                line += f"  [{e['kind']} {before}->{after}{fto}]"
        if m.get("dropped"):
            line += f"  ({m['dropped']} dropped)"
        print(line, file=out)
    elif kind == "error":
        print(f"server error ({m['code']}): {m['message']}", file=sys.stderr)
    elif kind == "summary":
        sp = m["speakers"]
        for name, v in sp.items():
            print(f"summary {name}: speech {_fmt(v['speech_fraction'], '.0%')}, F0 median "
                  f"{_fmt(v['f0_median_hz'], '.0f')} Hz, rate {_fmt(v['speech_rate_sps'], '.2f')} syl/s, "
                  f"{v['ipus']} IPUs", file=out)
        fto = m["fto_s"]
        print(f"summary: {fto['count']} floor transfers, median offset "
              f"{_fmt(fto['median'] and fto['median'] * 1000, '+.0f')} ms", file=out)


def cmd_stream(args) -> int:
    import asyncio

    from prosync.streams.websocket import read_stereo_pcm16, stream_audio

    if args.speed < 0 or not math.isfinite(args.speed):
        raise ProsyncError(f"--speed {args.speed} is invalid: use 0 (as fast as possible) or more")
    if not 1 <= args.block_ms <= 1000:
        raise ProsyncError(f"--block-ms {args.block_ms} is invalid: use 1 to 1000")
    if not args.url.startswith(("ws://", "wss://")):
        raise ProsyncError(f"--url {args.url} is invalid: give ws://HOST:PORT")
    pcm, sr = read_stereo_pcm16(args.file)
    errors = []

    def on_message(m, _t):
        if args.jsonl:
            print(json.dumps(m), flush=True)
        else:
            print_message(m)
        if m.get("type") == "error":
            errors.append(m)

    try:
        msgs = asyncio.run(stream_audio(args.url, pcm, sr, speed=args.speed, block_ms=args.block_ms,
                                        token=args.token,
                                        start={"metrics_interval_ms": args.interval_ms,
                                               **({"preset": args.preset} if args.preset else {})},
                                        on_message=on_message))
    except OSError as exc:
        raise ProsyncError(f"cannot connect to {args.url} ({exc.strerror or exc}): is `prosync serve` "
                           "running there?") from None
    except Exception as exc:  # websockets' handshake errors (401, 503) and closes
        from websockets.exceptions import InvalidStatus, WebSocketException

        if isinstance(exc, InvalidStatus):
            code = exc.response.status_code
            hint = "give the server's --token" if code == 401 else "try again later"
            raise ProsyncError(f"{args.url} refused the connection (HTTP {code}): {hint}") from None
        if isinstance(exc, WebSocketException):
            raise ProsyncError(f"connection to {args.url} failed: {exc}") from None
        raise
    if not any(m.get("type") == "summary" for m in msgs):
        raise ProsyncError("the server closed the session before its summary: see its log")
    return 1 if errors else 0

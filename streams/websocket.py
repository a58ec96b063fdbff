"""The WebSocket door: one connection is one session (protocol: ``docs/PROTOCOL.md``).

Client → server: a JSON ``start`` message, then binary audio messages (byte 0 = speaker index,
then mono PCM16 little-endian samples), then a JSON ``stop``. Server → client: ``ready``,
``metrics`` (the offline tables' fields, every ``metrics_interval_ms`` of stream time),
``error`` (the connection stays open) and, after ``stop``, ``summary`` before a normal close.

Edges only: features are computed by the engine's :class:`~prosync.engine.duplex.Duplex`. Audio is processed
on the event loop: with a metrics interval, each speaker's audio waits until it can complete the
next metrics message and is then pushed in one block (same results, the message leaves at the
same moment, a fraction of the per-push cost); with ``metrics_interval_ms = 0`` (or
``pad_agent``) every message is pushed as it arrives. Blocks of more than :data:`INLINE_MAX_S`
of audio go to a worker thread (the kernels release the GIL). Sending never blocks
processing: each connection has a bounded outgoing queue drained by its own task; when it is
full the oldest metrics message is dropped and the count is carried in the next message's
``dropped``. Several worker processes can share one port
(``SO_REUSEPORT``) to use more cores.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hmac
import ipaddress
import json
import logging
import math
import os
import signal
import sys
import time
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import numpy as np

from ..engine.config import Config
from ..engine.duplex import Duplex
from ..engine.errors import ProsyncError
from ..engine.schema import PROTOCOL_VERSION, SCHEMA_VERSION
from ..engine.session import Session
from .arrow import json_rows, rows_batch
from .arrow import warm as warm_arrow
from .jsonl import updates_to_dict

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: Audio messages carrying more than this many seconds are processed in a worker thread.
INLINE_MAX_S = 0.25
#: Coalesce each speaker's audio up to the next metrics message (see ``Connection.on_audio``).
COALESCE = True
START_KEYS = {"type", "protocol_version", "sample_rate", "speakers", "metrics_interval_ms", "frames",
              "pad_agent", "two_mics", "config"}

log = logging.getLogger("prosync.serve")


@dataclass
class ServerOptions:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    #: Connections must give this token (``?token=`` or ``Authorization: Bearer``); None: open.
    token: str | None = None
    #: Larger messages get an ``error`` and are ignored; beyond 4x the library closes (1009).
    max_message_bytes: int = 256 * 1024
    #: Outgoing messages waiting per connection before the oldest metrics are dropped.
    queue_size: int = 64
    #: Concurrent sessions per worker process; more are refused with HTTP 503. 0: no limit.
    max_sessions: int = 0
    #: Keepalive pings: a client that does not answer within ``ping_timeout`` is dropped.
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    workers: int = 1
    #: Transport buffer above which a send waits (bytes).
    write_limit: int = 32 * 1024

    def validate(self) -> ServerOptions:
        if self.max_message_bytes < 1024:
            raise ProsyncError(f"--max-message-bytes {self.max_message_bytes} is too small: use 1024 "
                               "or more (one 20 ms block at 48 kHz is 1921 bytes)")
        if self.queue_size < 1:
            raise ProsyncError(f"queue size {self.queue_size} is invalid: use 1 or more")
        if self.workers < 1:
            raise ProsyncError(f"--workers {self.workers} is invalid: use 1 or more")
        if self.workers > 1 and self.port == 0:
            raise ProsyncError("--workers > 1 needs a fixed --port (the workers share it)")
        if not 0 <= self.port <= 65535:
            raise ProsyncError(f"--port {self.port} is invalid: use 0 to 65535")
        return self


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(opts: ServerOptions) -> str | None:
    """The warning printed when the server is reachable from other machines without a token."""
    if is_loopback(opts.host) or opts.token is not None:
        return None
    return (f"prosync: warning: serving on {opts.host} without --token: anyone who can reach this "
            "port can stream audio to it; set --token or bind to 127.0.0.1")


class _Stop(Exception):
    pass


def _dumps(obj) -> str:
    return json.dumps(obj, allow_nan=False, separators=(",", ":"))


def _not_json(token: str):
    raise ProsyncError(f"the server sent {token}, which is not JSON: upgrade the server")


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


class Connection:
    """One client: its session, its bounded outgoing queue and the task that drains it."""

    def __init__(self, ws, server: MetricsServer):
        self.ws = ws
        self.server = server
        self.opts = server.opts
        self.agent = None
        self.out: collections.deque[tuple[str, str]] = collections.deque()
        self.wake = asyncio.Event()
        self.dropped = 0          # metrics dropped since the last message sent
        self.dropped_total = 0
        self.seq = 0
        self.pending = []         # updates not yet sent
        self._pace = self._pace_json = None  # the latest pacing row and its JSON form
        self.next_flush = 0.0
        self.interval_s = 0.1
        self.frames = True
        self.received = [0, 0]
        self.coalesce = False     # audio waits for the next metrics message (see on_audio)
        self._buf: list[list[np.ndarray]] = [[], []]
        self._buf_n = [0, 0]
        self.compute_s = 0.0
        self.stopping = False

    # ---------------------------------------------------------------- output
    def _enqueue(self, kind: str, text: str) -> None:
        q = self.out
        if len(q) >= self.opts.queue_size:
            for j, (k, _) in enumerate(q):
                if k == "metrics":
                    del q[j]
                    self.dropped += 1
                    self.dropped_total += 1
                    self.server.dropped_total += 1
                    break
            else:
                if kind == "error":  # a queue full of errors: drop the new one
                    return
                if q[0][0] == "error":
                    q.popleft()
        q.append((kind, text))
        self.wake.set()

    def error(self, code: str, message: str) -> None:
        self._enqueue("error", _dumps({"type": "error", "code": code, "message": message}))

    async def sender(self) -> None:
        ws = self.ws
        while True:
            while not self.out:
                self.wake.clear()
                await self.wake.wait()
            kind, text = self.out.popleft()
            if kind == "close":
                return
            if kind in ("metrics", "final"):
                # metrics dropped since the last one sent are counted in this one
                text = text[:-1] + f',"dropped":{self.dropped}}}'
                self.dropped = 0
            elif kind == "summary":
                text = text[:-1] + f',"dropped_total":{self.dropped_total}}}'
            await ws.send(text)

    # ----------------------------------------------------------------- input
    async def run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        sender = asyncio.create_task(self.sender())
        try:
            async for msg in self.ws:
                try:
                    if isinstance(msg, str):
                        await self.on_text(msg)
                    else:
                        await self.on_audio(msg)
                except ProsyncError as exc:
                    self.error("bad_audio", str(exc))
                if sender.done():
                    break
        except _Stop:
            pass
        except ConnectionClosed:
            pass  # the client went away: its session is dropped below
        except Exception as exc:  # a bug: report it to this client, keep serving the others
            log.exception("session failed")
            self.error("internal", f"internal error ({type(exc).__name__}): please report it")
            self._enqueue("close", "")
            self.stopping = True
        finally:
            if self.stopping and not sender.done():
                try:
                    await asyncio.wait_for(sender, timeout=10.0)
                except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - closing anyway
                    pass
            sender.cancel()
            self.agent = None  # frees the session

    async def on_text(self, text: str) -> None:
        if len(text) > self.opts.max_message_bytes:
            self.error("too_big", f"message of {len(text)} bytes is over the limit of "
                       f"{self.opts.max_message_bytes}: split it")
            return
        try:
            msg = json.loads(text)
        except ValueError as exc:
            where = f" ({exc.msg} at character {exc.pos})" if hasattr(exc, "pos") else ""
            self.error("bad_json", f"malformed JSON{where}: send one JSON object per text message")
            return
        except RecursionError:
            self.error("bad_json", "JSON nested too deeply: send one flat JSON object per text "
                       "message")
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            self.error("bad_message", "a text message must be a JSON object with a string \"type\"")
            return
        kind = msg["type"]
        if kind == "start":
            self.on_start(msg)
        elif kind == "stop":
            if self.agent is None:
                self.error("not_started", "stop before start: send {\"type\": \"start\", ...} first")
                return
            await self.on_stop()
        else:
            self.error("unknown_type", f"unknown message type {kind!r}: use start or stop "
                       "(audio goes in binary messages)")

    def on_start(self, msg: dict) -> None:
        if self.agent is not None:
            self.error("already_started", "this connection has a session already: one connection "
                       "is one session; open another connection for another session")
            return
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
            self.agent = Duplex(Session(speakers, sample_rate=sr, config=config,
                                        two_mics=flags["two_mics"]), pad_agent=flags["pad_agent"])
        except ProsyncError as exc:
            self.error("bad_start", str(exc))
            return
        self.interval_s = iv / 1000.0
        self.next_flush = self.interval_s
        self.frames = flags["frames"]
        self.sr = sr
        # pad_agent pads the agent's audio by the order of arrival: keep every push as it comes
        self.coalesce = COALESCE and self.interval_s > 0 and not flags["pad_agent"]
        self._enqueue("ready", _dumps({
            "type": "ready", "protocol_version": PROTOCOL_VERSION, "schema_version": SCHEMA_VERSION,
            "sample_rate": sr, "speakers": list(self.agent.speakers),
            "lookahead_s": self.agent.lookahead_s, "hop_s": 0.01,
            "metrics_interval_ms": iv, "max_message_bytes": self.opts.max_message_bytes,
        }))

    async def on_audio(self, data: bytes) -> None:
        if self.agent is None:
            self.error("not_started", "audio before start: send {\"type\": \"start\", "
                       "\"sample_rate\": ...} first")
            return
        if self.stopping:
            return
        n = len(data)
        if n > self.opts.max_message_bytes:
            self.error("too_big", f"audio message of {n} bytes is over the limit of "
                       f"{self.opts.max_message_bytes}: send shorter blocks (e.g. 20 ms)")
            return
        if n < 1:
            self.error("bad_audio", "empty binary message: byte 0 must be the speaker index")
            return
        spk = data[0]
        if spk > 1:
            self.error("bad_speaker", f"speaker index {spk} is invalid: byte 0 must be 0 (user) "
                       "or 1 (agent)")
            return
        if (n - 1) % 2:
            self.error("odd_bytes", f"audio message has {n - 1} PCM bytes, an odd number: send whole "
                       "16-bit samples (the message was ignored)")
            return
        pcm = np.frombuffer(data, dtype="<i2", offset=1)
        if not pcm.size:
            return
        self.received[spk] += pcm.size
        if not self.coalesce:
            await self._push([(spk, pcm)])
            return
        # Coalesced: audio waits until it can complete the next metrics message, then both
        # speakers' audio goes to the session in one push each. The session's results do not
        # depend on block sizes, and the message leaves when it would have left anyway (on the
        # audio that makes its last frame final), for a fifth of the per-push cost at 100 ms.
        self._buf[spk].append(pcm)
        self._buf_n[spk] += pcm.size
        due = self.next_flush - 0.005 + self.agent.lookahead_s
        if (min(self.received) >= due * self.sr - 1e-6
                or self._buf_n[spk] >= self.sr * max(self.interval_s, INLINE_MAX_S)):
            await self._drain()

    async def _drain(self) -> None:
        """Push the coalesced audio of both speakers (user first)."""
        blocks = []
        for i in (0, 1):
            if self._buf[i]:
                blocks.append((i, np.concatenate(self._buf[i]) if len(self._buf[i]) > 1
                               else self._buf[i][0]))
                self._buf[i] = []
                self._buf_n[i] = 0
        if blocks:
            await self._push(blocks)

    async def _push(self, blocks) -> None:
        t0 = time.perf_counter()
        for spk, pcm in blocks:
            if pcm.size > INLINE_MAX_S * self.sr:
                upd = await asyncio.to_thread(self.agent.push, spk, pcm)
            else:
                upd = self.agent.push(spk, pcm)
            if upd:
                self.pending.append(upd)
        self.compute_s += time.perf_counter() - t0
        if self.pending:
            self._maybe_flush()

    def _maybe_flush(self) -> None:
        t_end = None
        for upd in self.pending:
            for rec in upd.frames.values():
                if len(rec):
                    t_end = float(rec["t_s"][-1]) + 0.005
        if t_end is None:
            return
        if self.interval_s <= 0 or t_end >= self.next_flush - 1e-9:
            self.flush(t_end)
            if self.interval_s > 0:
                self.next_flush = (math.floor(t_end / self.interval_s + 1e-9) + 1) * self.interval_s

    def _advice(self, pace) -> dict | None:
        """The latest pacing row as JSON (converted once per new row)."""
        if pace is not None and pace is not self._pace:
            self._pace, self._pace_json = pace, json_rows(rows_batch("pacing", [pace]))[0]
        return None if pace is None else self._pace_json

    def flush(self, t_end: float, final: bool = False) -> None:
        d = metrics_body(self.pending, self.frames)
        self.pending = []
        pace = self.agent.session.pacing()
        self.seq += 1
        msg = {"type": "metrics", "seq": self.seq, "t_s": round(t_end, 3),
               "received_s": [self.received[0] / self.sr, self.received[1] / self.sr],
               "compute_ms": round(self.compute_s * 1000, 3), **d,
               "advice": self._advice(pace)}
        if final:
            msg["final"] = True
        self.compute_s = 0.0
        self._enqueue("final" if final else "metrics", _dumps(msg))

    async def on_stop(self) -> None:
        self.stopping = True
        if self.coalesce:
            await self._drain()
        # the last frames and the summary (entrainment over the whole session) take milliseconds:
        # off the event loop, so the other sessions' audio keeps flowing meanwhile
        upd = await asyncio.to_thread(self.agent.close)
        if upd:
            self.pending.append(upd)
        t_end = self.agent.time_s
        for rec in upd.frames.values():
            if len(rec):
                t_end = float(rec["t_s"][-1]) + 0.005
        self.flush(t_end, final=True)
        summary = await asyncio.to_thread(self.agent.summary)
        self._enqueue("summary", _dumps({"type": "summary", "protocol_version": PROTOCOL_VERSION,
                                         "schema_version": SCHEMA_VERSION, **summary}))
        self._enqueue("close", "")  # marker: the sender closes after the summary
        raise _Stop


class MetricsServer:
    """The server in one process: ``async with MetricsServer(opts) as srv: ...``."""

    def __init__(self, opts: ServerOptions | None = None, *, reuse_port: bool = False):
        self.opts = (opts or ServerOptions()).validate()
        self.reuse_port = reuse_port
        self.active = 0          # open sessions (connections)
        self.served = 0
        self.dropped_total = 0
        self._server = None

    async def _process_request(self, connection, request):
        if self.opts.token is not None:
            got = parse_qs(urlsplit(request.path).query).get("token", [""])[0]
            auth = request.headers.get("Authorization", "")
            if auth.lower().startswith("bearer "):
                got = got or auth[7:].strip()
            if not hmac.compare_digest(got.encode(), self.opts.token.encode()):
                log.warning("refused %s: missing or wrong token (401)", _peer(connection))
                return connection.respond(HTTPStatus.UNAUTHORIZED,
                                          "prosync: missing or wrong token: add ?token=... to the URL\n")
        if self.opts.max_sessions and self.active >= self.opts.max_sessions:
            log.warning("refused %s: server full, %d of %d sessions open (503)", _peer(connection),
                        self.active, self.opts.max_sessions)
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE,
                                      "prosync: this server is full: try again later\n")
        return None

    async def _handler(self, ws) -> None:
        self.active += 1
        self.served += 1
        peer = _peer(ws)
        log.info("connection from %s (%d open)", peer, self.active)
        conn = Connection(ws, self)
        try:
            await conn.run()
        finally:
            self.active -= 1
            log.info("connection from %s closed (%d open)", peer, self.active)
            # close (normal after stop; otherwise the client is gone or misbehaved)
            await ws.close()

    async def start(self) -> MetricsServer:
        from websockets.asyncio.server import serve

        self._server = await serve(
            self._handler, self.opts.host, self.opts.port,
            process_request=self._process_request,
            max_size=4 * self.opts.max_message_bytes,
            ping_interval=self.opts.ping_interval, ping_timeout=self.opts.ping_timeout,
            compression=None, write_limit=self.opts.write_limit,
            reuse_port=self.reuse_port or None,
        )
        return self

    @property
    def port(self) -> int:
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        host = self.opts.host if ":" not in self.opts.host else f"[{self.opts.host}]"
        return f"ws://{host}:{self.port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc):
        await self.close()


def warm_up() -> None:
    """Load every numba kernel (from the cache) before the first client comes
    (:func:`prosync.engine.warm.warm`: its short synchrony windows load the window kernels
    too), then freeze the garbage collector's view of everything loaded so far."""
    from ..engine.session import Session
    from ..engine.warm import warm

    warm(Session)
    warm_arrow()  # pa.array's one-time imports, before the first metrics message
    # The kernels' compiler objects (numba, llvmlite) are many and long-lived: left in the
    # collected generations, each full collection scans them (50-90 ms pauses of every session
    # of the process). Freezing moves them out of the collector's way (pauses below 5 ms).
    import gc

    gc.collect()
    gc.freeze()


#: Seconds between returns of freed heap memory to the system (see :func:`_trim_memory`).
TRIM_INTERVAL_S = 10.0


def _malloc_trim():
    """glibc's ``malloc_trim`` (None elsewhere)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


async def _trim_memory() -> None:
    """Hand freed heap pages back to the system every :data:`TRIM_INTERVAL_S`.

    A finished session's buffers go back to the allocator, which keeps them: the server's RSS
    would otherwise stay at its busiest moment. One trim takes about 1.5 ms.
    """
    trim = _malloc_trim()
    if trim is None:
        return
    while True:
        await asyncio.sleep(TRIM_INTERVAL_S)
        trim(0)


async def _serve_forever(opts: ServerOptions, reuse_port: bool, ready=None) -> None:
    srv = MetricsServer(opts, reuse_port=reuse_port)
    await srv.start()
    trimmer = asyncio.create_task(_trim_memory())
    if ready is not None:
        ready(srv)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            asyncio.get_running_loop().add_signal_handler(sig, stop.cancel)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        await stop
    except asyncio.CancelledError:
        pass
    trimmer.cancel()
    await srv.close()


def _peer(connection) -> str:
    addr = getattr(connection, "remote_address", None)
    return f"{addr[0]}:{addr[1]}" if addr else "unknown peer"


def _worker(opts: ServerOptions, ready_event, log_level=None) -> None:
    if log_level is not None:  # a spawned process: the parent's logging settings, again
        from prosync.engine.logs import configure

        configure(log_level)
    warm_up()
    asyncio.run(_serve_forever(opts, reuse_port=True, ready=lambda srv: ready_event.set()))


def serve(opts: ServerOptions, announce=print) -> None:
    """Run the server until SIGINT/SIGTERM (``prosync serve``)."""
    opts.validate()
    warning = exposure_warning(opts)
    if warning:
        print(warning, file=sys.stderr)
    if opts.workers == 1:
        warm_up()
        def ready(srv):
            announce(f"prosync: serving on {srv.url} (protocol {PROTOCOL_VERSION}"
                     f"{', token required' if opts.token else ''}); Ctrl-C stops")
        asyncio.run(_serve_forever(opts, reuse_port=False, ready=ready))
        return
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    events = [ctx.Event() for _ in range(opts.workers)]
    level = logging.getLogger("prosync").level or None
    procs = [ctx.Process(target=_worker, args=(opts, ev, level), daemon=True) for ev in events]
    for p in procs:
        p.start()
    for p, ev in zip(procs, events):  # announce once every worker listens
        while not ev.wait(0.2):
            if not p.is_alive():
                for q in procs:
                    if q.is_alive():
                        q.terminate()
                raise ProsyncError(f"a server worker exited (code {p.exitcode}): is port "
                                   f"{opts.port} in use?")
    announce(f"prosync: serving on ws://{opts.host}:{opts.port} with {opts.workers} worker processes "
             f"(protocol {PROTOCOL_VERSION}); Ctrl-C stops")

    def _term(*_):
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGTERM)

    old = signal.signal(signal.SIGTERM, _term)
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        _term()
        for p in procs:
            p.join(timeout=5)
    finally:
        signal.signal(signal.SIGTERM, old)


# --------------------------------------------------------------------- client
def read_stereo_pcm16(path) -> tuple[np.ndarray, int]:
    """A file's audio as ``(n, 2)`` int16 (mono: the agent channel is silence) and its rate."""
    from pathlib import Path

    from .files import _open

    with _open(Path(path)) as f:
        sr, ch = f.samplerate, f.channels
        if ch > 2:
            raise ProsyncError(f"{path}: has {ch} channels: give a stereo file (user, agent)")
        if f.frames == 0:
            raise ProsyncError(f"{path}: contains no audio samples: check the recording")
        if f.subtype in ("PCM_16", "PCM_S8", "PCM_U8"):
            x = f.read(dtype="int16", always_2d=True)
        else:  # quantise to the protocol's PCM16
            x = f.read(dtype="float32", always_2d=True)
            if not np.isfinite(x).all():
                raise ProsyncError(f"{path}: contains NaN or Inf samples: re-export it")
            x = np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
    if sr < 8000:
        raise ProsyncError(f"{path}: sample rate {sr} Hz is below 8000 Hz: convert it")
    if x.shape[1] == 1:
        x = np.concatenate([x, np.zeros_like(x)], axis=1)
    return np.ascontiguousarray(x), sr


async def stream_audio(url: str, pcm: np.ndarray, sample_rate: int, *, speed: float = 1.0,
                       block_ms: float = 20.0, token: str | None = None, start: dict | None = None,
                       on_message=None, sent_times: list | None = None, connect_kw=None) -> list[dict]:
    """Stream ``pcm`` (``(n, 2)`` int16: user, agent) to a server; return every message received.

    ``speed``: 1 = real time, 2 = twice as fast, 0 = as fast as possible. ``on_message(msg,
    t_recv)`` is called for each message as it arrives. ``sent_times`` (if a list) receives
    ``(end_sample, t_sent)`` per block pair, for latency measurements.
    """
    from websockets.asyncio.client import connect

    if token:
        url += ("&" if "?" in url else "?") + "token=" + token
    block = max(1, int(round(sample_rate * block_ms / 1000.0)))
    msgs: list[dict] = []
    kw = {"max_size": None, "compression": None, **(connect_kw or {})}
    async with connect(url, **kw) as ws:
        async def reader():
            async for text in ws:
                m = json.loads(text, parse_constant=_not_json)
                msgs.append(m)
                if on_message is not None:
                    on_message(m, time.perf_counter())

        rtask = asyncio.create_task(reader())
        await ws.send(_dumps({"type": "start", "sample_rate": int(sample_rate),
                              **(start or {})}))
        u = pcm[:, 0].astype("<i2").tobytes()
        a = pcm[:, 1].astype("<i2").tobytes()
        n = pcm.shape[0]
        t0 = time.perf_counter()
        for k, i in enumerate(range(0, n, block)):
            j = min(n, i + block)
            if speed > 0:
                due = t0 + k * block / sample_rate / speed
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            await ws.send(b"\x00" + u[2 * i:2 * j])
            await ws.send(b"\x01" + a[2 * i:2 * j])
            if sent_times is not None:
                sent_times.append((j, time.perf_counter()))
            if rtask.done():
                break
        if not rtask.done():
            await ws.send(_dumps({"type": "stop"}))
        await rtask
    return msgs

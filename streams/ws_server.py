"""The WebSocket server: one connection is one session (protocol: ``docs/PROTOCOL.md``, messages:
:mod:`prosync.streams.ws_protocol`).

Edges only: features are computed by the engine's :class:`~prosync.engine.duplex.Duplex`, and
each connection is one of its sinks (``write(update)`` gathers the rows of the next metrics
message; ``close(summary)`` comes with the session's summary). Audio is processed on the event
loop: with a metrics interval, each speaker's audio waits until it can complete the next metrics
message and is then pushed in one block (same results, the message leaves at the same moment, a
fraction of the per-push cost); with ``metrics_interval_ms = 0`` (or ``pad_agent``) every
message is pushed as it arrives. Blocks of more than :data:`INLINE_MAX_S` of audio go to a worker
thread (the kernels release the GIL). Sending never blocks processing: each connection has a
bounded outgoing queue drained by its own task; when it is full the oldest metrics message is
dropped and the count is carried in the next message's ``dropped``. Running the server in one or
several processes: :mod:`prosync.streams.ws_serve`.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import ipaddress
import logging
import math
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import numpy as np

from ..engine.config import Config, SyncConfig
from ..engine.duplex import Duplex
from ..engine.errors import ProsyncError
from ..engine.session import Session
from ..engine.session_sync import SESSION_TEST_EVERY_S
from . import ws_protocol as P
from .sink import Sink
from .ws_protocol import DEFAULT_HOST, DEFAULT_PORT

#: Audio messages carrying more than this many seconds are processed in a worker thread.
INLINE_MAX_S = 0.25
#: Coalesce each speaker's audio up to the next metrics message (see ``Connection.on_audio``).
COALESCE = True

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
    #: Synchrony preset of the sessions whose ``start`` names none and sets no ``config.sync``
    #: (None: the engine's default).
    preset: str | None = None

    def validate(self) -> ServerOptions:
        if self.max_message_bytes < 1024:
            raise ProsyncError(f"max_message_bytes={self.max_message_bytes} is too small: use 1024 "
                               "or more (one 20 ms block at 48 kHz is 1921 bytes)")
        if self.queue_size < 1:
            raise ProsyncError(f"queue_size={self.queue_size} is invalid: use 1 or more")
        if self.workers < 1:
            raise ProsyncError(f"workers={self.workers} is invalid: use 1 or more")
        if self.workers > 1 and self.port == 0:
            raise ProsyncError(f"workers={self.workers} needs a fixed port= (the workers share it)")
        if not 0 <= self.port <= 65535:
            raise ProsyncError(f"port={self.port} is invalid: use 0 to 65535")
        if self.preset is not None:
            SyncConfig.preset(self.preset)
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
    return (f"prosync: warning: serving on host={opts.host} without token=: anyone who can reach "
            "this port can stream audio to it; set token= or bind to 127.0.0.1")


class _Stop(Exception):
    pass


class Connection(Sink):
    """One client: its session (a :class:`Duplex` this connection is a sink of), its bounded
    outgoing queue and the task that drains it."""

    def __init__(self, ws, server: MetricsServer):
        super().__init__()
        self.ws = ws
        self.server = server
        self.opts = server.opts
        self.duplex: Duplex | None = None
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
        self.summary: dict | None = None

    # ------------------------------------------------------------ sink side
    def _write(self, upd) -> None:
        self.pending.append(upd)

    def _close(self, summary: dict | None) -> list:
        self.summary = summary  # sent by on_stop, on the event loop
        return []

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
        self._enqueue("error", P.error_message(code, message))

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
                except P.ProtocolError as exc:
                    self.error(exc.code, str(exc))
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
            if self.duplex is not None and not self.duplex.finished:
                self.duplex.abort()
            self.duplex = None  # frees the session

    async def on_text(self, text: str) -> None:
        msg = P.parse_text(text, self.opts.max_message_bytes)
        kind = msg["type"]
        if kind == "start":
            self.on_start(msg)
        elif kind == "stop":
            if self.duplex is None:
                raise P.ProtocolError("not_started", "stop before start: send {\"type\": "
                                      "\"start\", ...} first")
            await self.on_stop()
        else:
            raise P.ProtocolError("unknown_type", f"unknown message type {kind!r}: use start or "
                                  "stop (audio goes in binary messages)")

    def on_start(self, msg: dict) -> None:
        if self.duplex is not None:
            raise P.ProtocolError("already_started", "this connection has a session already: one "
                                  "connection is one session; open another connection for "
                                  "another session")
        st = P.parse_start(msg)
        config = st.config
        if (st.preset is None and self.opts.preset is not None
                and (config is None or config.sync == SyncConfig())):
            config = (config or Config()).with_preset(self.opts.preset)  # the server's default
        session = Session(st.speakers, sample_rate=st.sample_rate, config=config,
                          two_mics=st.two_mics)
        # the session test every 15 s of stream time, off the pushing thread: rows in `metrics`
        self.duplex = Duplex(session, pad_agent=st.pad_agent, sinks=[self],
                             session_test_every_s=SESSION_TEST_EVERY_S)
        self.sr = st.sample_rate
        self.interval_s = st.metrics_interval_ms / 1000.0
        self.next_flush = self.interval_s
        self.frames = st.frames
        # pad_agent pads the agent's audio by the order of arrival: keep every push as it comes
        self.coalesce = COALESCE and self.interval_s > 0 and not st.pad_agent
        self._enqueue("ready", P.ready_message(st, session.speakers, session.lookahead_s,
                                               self.opts.max_message_bytes))

    async def on_audio(self, data: bytes) -> None:
        if self.duplex is None:
            raise P.ProtocolError("not_started", "audio before start: send {\"type\": \"start\", "
                                  "\"sample_rate\": ...} first")
        if self.stopping:
            return
        spk, pcm = P.parse_audio(data, self.opts.max_message_bytes)
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
        # the earliest audio that can complete the message (the resampler may release it sooner
        # than its worst-case hold); from then on every block drains at once
        session = self.duplex.session
        due = self.next_flush - 0.005 + session.lookahead_s - session.resampler_hold_s
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
        for spk, pcm in blocks:
            if pcm.size > INLINE_MAX_S * self.sr:
                upd = await asyncio.to_thread(self.duplex.push, spk, pcm)
            else:
                upd = self.duplex.push(spk, pcm)
            self.compute_s += upd.compute_s  # the rows came through write()
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
            self._pace, self._pace_json = pace, P.advice_json(pace)
        return None if pace is None else self._pace_json

    def flush(self, t_end: float, final: bool = False) -> None:
        pending, self.pending = self.pending, []
        self.seq += 1
        text = P.metrics_message(self.seq, t_end, [self.received[0] / self.sr,
                                                   self.received[1] / self.sr],
                                 self.compute_s, pending, self.frames,
                                 self._advice(self.duplex.session.pacing()), final)
        self.compute_s = 0.0
        self._enqueue("final" if final else "metrics", text)

    async def on_stop(self) -> None:
        self.stopping = True
        if self.coalesce:
            await self._drain()
        # the last frames and the summary (entrainment over the whole session) take milliseconds:
        # off the event loop, so the other sessions' audio keeps flowing meanwhile
        n_before = len(self.pending)
        await asyncio.to_thread(self.duplex.close)
        t_end = self.duplex.time_s
        for upd in self.pending[n_before:]:
            self.compute_s += upd.compute_s
            for rec in upd.frames.values():
                if len(rec):
                    t_end = float(rec["t_s"][-1]) + 0.005
        self.flush(t_end, final=True)
        await asyncio.to_thread(self.duplex.finish)  # closes this sink with the summary
        self._enqueue("summary", P.summary_message(self.summary))
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


def _peer(connection) -> str:
    addr = getattr(connection, "remote_address", None)
    return f"{addr[0]}:{addr[1]}" if addr else "unknown peer"

"""The embedded door for voice agents: push the user's microphone and the agent's own speech,
read back the pacing advice at any moment, or subscribe to every update.

:class:`AgentSession` wraps one :class:`prosync.Session` (speaker 0 = user, 1 = agent) and adds
what an agent loop needs around it:

* **time alignment**: the engine joins the two speakers' frames in time, so the agent's stream
  must advance even while the agent is silent. With ``pad_agent=True`` (the default) every
  user block is followed by silence on the agent side up to the user's time, and agent audio is
  placed at the user's current time (the moment it starts playing). Push the agent's audio when
  it is played, not when it is synthesised.
* **subscriptions**: callbacks (``subscribe(fn)``) and async iterators (``async for upd in
  agent.updates()``), both fed from whichever thread pushed the audio;
* **latest state**: :meth:`pacing`, :attr:`user_speaking`, :meth:`latest` and a running
  :meth:`summary` (the ``summary.json`` content).

Thread-safety: every method may be called from any thread. One producer thread per speaker is
fine (tested); pushes are serialised by a lock, so the results equal those of pushing the same
audio from one thread. Callbacks run in the pushing thread, under that lock: keep them short
and do not push from inside them. Async iterators are fed through their event loop's
``call_soon_threadsafe`` and never block the producer: when a subscriber's queue is full the
oldest update is dropped and counted in :attr:`UpdateStream.dropped`.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import weakref
from collections.abc import Callable, Sequence
from types import SimpleNamespace

import numpy as np

from prosync.engine.config import HOP_S, Config
from prosync.engine.errors import ProsyncError
from prosync.engine.pacing import PacingRow
from prosync.engine.session import Session, Update, _as_float32
from prosync.engine.summary import SessionSummary
from prosync.engine.turns import TurnEvent

__all__ = ["AgentSession", "UpdateStream", "merge_updates"]

USER, AGENT = 0, 1
#: Frames per speaker gathered before they reach the running summary (0.5 s).
STATS_BATCH_FRAMES = 50


class UpdateStream:
    """An async iterator over a session's updates (from :meth:`AgentSession.updates`).

    Bounded: at most ``maxsize`` updates wait; beyond that the oldest is dropped and counted in
    :attr:`dropped`. Iteration ends after the session is closed (the last update is delivered).
    """

    def __init__(self, owner: AgentSession, loop: asyncio.AbstractEventLoop, maxsize: int):
        if maxsize < 1:
            raise ProsyncError(f"maxsize={maxsize} is invalid: use 1 or more")
        self._owner = owner
        self._loop = loop
        self._q: collections.deque = collections.deque()
        self._max = maxsize
        self._wake = asyncio.Event()
        self._ended = False
        #: Updates dropped because the consumer was too slow.
        self.dropped = 0

    # called in the loop's thread (through call_soon_threadsafe)
    def _put(self, upd: Update | None) -> None:
        if upd is None:
            self._ended = True
        else:
            if len(self._q) >= self._max:
                self._q.popleft()
                self.dropped += 1
            self._q.append(upd)
        self._wake.set()

    def _feed(self, upd: Update | None) -> None:  # any thread
        try:
            self._loop.call_soon_threadsafe(self._put, upd)
        except RuntimeError:  # the loop is closed: the consumer has gone
            self._owner._unsubscribe_stream(self)

    def __aiter__(self):
        return self

    async def __anext__(self) -> Update:
        while True:
            if self._q:
                return self._q.popleft()
            if self._ended:
                self._owner._unsubscribe_stream(self)
                raise StopAsyncIteration
            self._wake.clear()
            await self._wake.wait()

    async def aclose(self) -> None:
        """Stop receiving updates."""
        self._owner._unsubscribe_stream(self)
        self._ended = True
        self._q.clear()


class AgentSession:
    """A user/agent session for a voice agent.

    Parameters
    ----------
    sample_rate : int
        Rate of the audio of both speakers (any rate >= 8000 Hz).
    speakers : (str, str)
        Names of the user (speaker 0) and the agent (speaker 1).
    pad_agent : bool
        Keep the agent's stream level with the user's by pushing silence (see the module doc).
        Turn it off when the agent's stream is pushed continuously (silence included).
    config : prosync.Config, optional
    two_mics : bool
        Passed to :class:`prosync.Session`: speech of one channel that is only the other's bleed
        is dropped (leave on for a user microphone that may hear the agent's loudspeaker).
    on_update : callable, optional
        Shorthand for :meth:`subscribe`.
    keep_events : int
        Recent turn events kept for :meth:`latest`.
    """

    def __init__(self, sample_rate: int = 16000, speakers: Sequence[str] = ("user", "agent"), *,
                 pad_agent: bool = True, config: Config | None = None, two_mics: bool = True,
                 on_update: Callable[[Update], None] | None = None, keep_events: int = 32):
        if len(tuple(speakers)) != 2:
            raise ProsyncError(f"speakers={tuple(speakers)!r}: an agent session has two speakers, "
                               "the user then the agent")
        # the session calls back through a weak reference: no reference cycle, so a session is
        # freed (with its buffers) the moment its owner lets go, not at the next full collection
        dispatch = weakref.WeakMethod(self._dispatch)

        def on_session_update(upd, dispatch=dispatch):
            d = dispatch()
            if d is not None:
                d(upd)

        self.session = Session(tuple(speakers), sample_rate=sample_rate, config=config,
                               two_mics=two_mics, on_update=on_session_update)
        self.speakers = self.session.speakers
        self.sample_rate = self.session.sample_rate
        self.pad_agent = pad_agent
        self._lock = threading.RLock()
        self._pos = [0, 0]  # samples pushed per speaker, padding included
        self._callbacks: list[Callable[[Update], None]] = []
        self._streams: list[UpdateStream] = []
        self._stats = SessionSummary(self.speakers)
        # updates wait here and reach the summary merged (its cost is per call, not per frame)
        self._stats_pending: list[Update] = []
        self._stats_frames = 0
        self._audio_pending: list[list[np.ndarray]] = [[], []]
        self._last_frame: dict[str, np.ndarray | None] = dict.fromkeys(self.speakers)
        self._events: collections.deque[TurnEvent] = collections.deque(maxlen=keep_events)
        self._sync: dict[str, object] = {}
        #: The latest ``turn_end`` event (the user's end of turn), None before the first.
        self.last_turn_end = None
        self._summary_cache = None
        if on_update is not None:
            self.subscribe(on_update)

    # ------------------------------------------------------------------ input
    @property
    def lookahead_s(self) -> float:
        """Audio needed after a frame's centre before its features are final."""
        return self.session.lookahead_s

    @property
    def time_s(self) -> float:
        """Seconds of audio joined so far (the later of the two speakers' positions)."""
        with self._lock:
            return max(self._pos) / self.sample_rate

    def push_user(self, samples) -> Update:
        """The user's microphone audio (int16 PCM or float, 1-D), as it arrives."""
        return self.push(USER, samples)

    def push_agent(self, samples) -> Update:
        """The agent's own speech, pushed as it is played (int16 PCM or float, 1-D)."""
        return self.push(AGENT, samples)

    def push(self, speaker, samples) -> Update:
        """Push one speaker's audio (name or index); returns what became final (all merged)."""
        i = self.session._index(speaker)
        x = _as_float32(samples)  # validates (1-D, finite) before anything is pushed
        with self._lock:
            parts = []
            if self.pad_agent and i == AGENT and self._pos[AGENT] < self._pos[USER]:
                parts.append(self._pad(self._pos[USER] - self._pos[AGENT]))
            parts.append(self.session.push(i, x))
            self._audio_pending[i].append(x)
            if len(self._audio_pending[i]) >= 64:  # bounded even when no frames are joined
                self._flush_audio(i)
            self._pos[i] += x.shape[0]
            if self.pad_agent and i == USER and self._pos[AGENT] < self._pos[USER]:
                parts.append(self._pad(self._pos[USER] - self._pos[AGENT]))
            return merge_updates(parts)

    def _pad(self, n: int) -> Update:
        upd = self.session.push(AGENT, np.zeros(n, dtype=np.float32))
        self._pos[AGENT] += n
        return upd

    def close(self) -> Update:
        """End of input: the last frames and turn events; async iterators end after them."""
        with self._lock:
            if self.session.closed:
                return Update()
            upd = self.session.close()
            self._summary_cache = None
            streams = list(self._streams)
        for s in streams:
            s._feed(None)
        return upd

    @property
    def closed(self) -> bool:
        return self.session.closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---------------------------------------------------------- subscriptions
    def subscribe(self, callback: Callable[[Update], None]) -> Callable[[], None]:
        """Call ``callback(update)`` for every non-empty update; returns an unsubscribe function.

        The callback runs in the thread that pushed the audio, under the session's lock.
        """
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe():
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def updates(self, maxsize: int = 256) -> UpdateStream:
        """An async iterator of updates for the running event loop (call it inside the loop).

        ``async for upd in agent.updates(): ...`` ends when the session is closed.
        """
        stream = UpdateStream(self, asyncio.get_running_loop(), maxsize)
        with self._lock:
            if self.session.closed:
                stream._put(None)
            else:
                self._streams.append(stream)
        return stream

    def _unsubscribe_stream(self, stream: UpdateStream) -> None:
        with self._lock:
            if stream in self._streams:
                self._streams.remove(stream)

    def _dispatch(self, upd: Update) -> None:
        # runs under Session's lock, inside self._lock (push/close hold it)
        self._stats_pending.append(upd)
        self._stats_frames += max((len(r) for r in upd.frames.values()), default=0)
        if self._stats_frames >= STATS_BATCH_FRAMES or self.session.closed:
            self._flush_stats()
        self._summary_cache = None
        for spk, rec in upd.frames.items():
            if len(rec):
                self._last_frame[spk] = rec  # the row is read when asked for
        self._events.extend(upd.events)
        for r in upd.synchrony:
            self._sync[r.feature] = r
        if upd.turn_end:
            self.last_turn_end = upd.turn_end[-1]
        for cb in list(self._callbacks):
            cb(upd)
        for s in list(self._streams):
            s._feed(upd)

    # ------------------------------------------------------------ read back
    def pacing(self) -> PacingRow | None:
        """The latest pacing advice (``None`` until both speakers have 100 ms of frames)."""
        return self.session.pacing()

    def turn_end_prob(self) -> float:
        """The user's latest end-of-turn probability (see :mod:`prosync.engine.endofturn`):
        NaN while they speak; rises while they stay silent."""
        return self.session.turn_end_prob()

    def reply_go(self) -> bool:
        """Whether the agent may start its reply now: ``turn_end`` fired in the user's current
        silence and that silence has reached the advised ``reply_delay_ms`` (replies timed like
        the user's own gaps, see :mod:`prosync.engine.pacing`)."""
        with self._lock:
            eot = self.session.end_of_turn_state()
            if eot is None or not eot[0]:
                return False
            pace = self.session.pacing()
            delay_s = pace.reply_delay_ms / 1000.0 if pace is not None else 0.0
            return eot[1] >= delay_s - 1e-9

    @property
    def user_speaking(self) -> bool:
        """Whether the user speaks in the latest final frame (voice activity, bleed removed)."""
        with self._lock:
            f = self._last_frame[self.speakers[USER]]
            return bool(f["speech"][-1]) if f is not None else False

    def silence_s(self, speaker=USER) -> float:
        """How long ``speaker`` has been silent up to the latest final frame (0 while speaking)."""
        i = self.session._index(speaker)
        with self._lock:
            return self._silence(i)

    def _silence(self, i: int) -> float:
        self._flush_stats()
        sp = self._stats.recent_frames(self.speakers[i])["speech"]  # the last 60 s at most
        nz = np.flatnonzero(sp)
        return float(sp.shape[0] - 1 - nz[-1] if nz.size else sp.shape[0]) * HOP_S

    def latest(self) -> dict:
        """The latest final values: ``{"t_s", "frames": {speaker: row dict}, "events": [...],
        "synchrony": {feature: SyncRow}, "pacing": PacingRow | None}``."""
        with self._lock:
            frames = {}
            t = float("nan")
            for spk, rec in self._last_frame.items():
                if rec is not None:
                    f = rec[-1]
                    frames[spk] = {k: f[k].item() for k in f.dtype.names}
                    t = frames[spk]["t_s"]
            return {"t_s": t, "frames": frames, "events": list(self._events),
                    "synchrony": dict(self._sync), "pacing": self.session.pacing()}

    def _flush_audio(self, i: int) -> None:
        blocks = self._audio_pending[i]
        if blocks:
            self._stats.audio(i, np.concatenate(blocks) if len(blocks) > 1 else blocks[0])
            blocks.clear()

    def _flush_stats(self) -> None:
        self._flush_audio(USER)
        self._flush_audio(AGENT)
        if self._stats_pending:
            self._stats.update(merge_updates(self._stats_pending))
            self._stats_pending, self._stats_frames = [], 0

    def summary(self) -> dict:
        """The session summary so far (the ``summary.json`` content of ``prosync score``)."""
        with self._lock:
            self._flush_stats()
            if self._summary_cache is None:
                total_s = max(self._stats.samples) / self.sample_rate
                srcs = [SimpleNamespace(path=f"speaker {s!r}", channel=None) for s in self.speakers]
                warnings = self._stats.check_audio(srcs)
                s = self._stats.summary(total_s, self.session)
                s["warnings"] = warnings
                self._summary_cache = s
            return self._summary_cache


def merge_updates(parts: Sequence[Update]) -> Update:
    """One :class:`Update` holding the rows of several consecutive ones, in order."""
    parts = [p for p in parts if p]
    if len(parts) == 1:
        return parts[0]
    out = Update()
    if not parts:
        return out
    names = list(dict.fromkeys(k for p in parts for k in p.frames))
    for k in names:
        chunks = [p.frames[k] for p in parts if k in p.frames]
        out.frames[k] = _concat_records(chunks) if len(chunks) > 1 else chunks[0]
    for p in parts:
        out.events.extend(p.events)
        out.synchrony.extend(p.synchrony)
        out.pacing.extend(p.pacing)
        out.turn_end.extend(p.turn_end)
    eot = [p.end_of_turn for p in parts if len(p.end_of_turn)]
    if eot:
        out.end_of_turn = eot[0] if len(eot) == 1 else np.concatenate(eot)
    series_spk = list(dict.fromkeys(k for p in parts for k in p.series))
    for spk in series_spk:
        cols = [p.series[spk] for p in parts if spk in p.series]
        out.series[spk] = {c: np.concatenate([s[c] for s in cols]) for c in cols[0]}
    return out


def _concat_records(chunks: Sequence[np.ndarray]) -> np.ndarray:
    """``np.concatenate`` of record arrays of one dtype, without its per-call field promotion."""
    out = np.empty(sum(c.shape[0] for c in chunks), dtype=chunks[0].dtype)
    i = 0
    for c in chunks:
        out[i:i + c.shape[0]] = c
        i += c.shape[0]
    return out

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

The alignment, merging, timing, running summary and sinks are the engine's
:class:`~prosync.engine.duplex.Duplex` (shared with every other door); this module adds the
subscriptions and the read-back of the latest state.

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
from collections.abc import Callable, Sequence

import numpy as np

from prosync.engine.config import HOP_S, Config
from prosync.engine.duplex import Duplex, merge_updates
from prosync.engine.errors import ProsyncError
from prosync.engine.pacing import PacingRow
from prosync.engine.session import Session, Update
from prosync.engine.turns import TurnEvent
from prosync.streams.sink import CallbackSink, Sink

__all__ = ["AgentSession", "UpdateStream", "merge_updates"]

USER, AGENT = 0, 1


class UpdateStream(Sink):
    """An async iterator over a session's updates (from :meth:`AgentSession.updates`).

    Bounded: at most ``maxsize`` updates wait; beyond that the oldest is dropped and counted in
    :attr:`dropped`. Iteration ends after the session is closed (the last update is delivered).
    """

    def __init__(self, owner: AgentSession, loop: asyncio.AbstractEventLoop, maxsize: int):
        super().__init__()
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

    # the sink side (any thread)
    def _write(self, upd: Update) -> None:
        self._feed(upd)

    def _close(self, summary=None) -> list:
        self._feed(None)
        return []

    def _abort(self) -> None:
        self._feed(None)

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
            self._owner.remove_sink(self)

    def __aiter__(self):
        return self

    async def __anext__(self) -> Update:
        while True:
            if self._q:
                return self._q.popleft()
            if self._ended:
                self._owner.remove_sink(self)
                raise StopAsyncIteration
            self._wake.clear()
            await self._wake.wait()

    async def aclose(self) -> None:
        """Stop receiving updates."""
        self._owner.remove_sink(self)
        self._ended = True
        self._q.clear()


class _Latest(Sink):
    """The latest final frame per speaker, recent turn events and synchrony rows."""

    def __init__(self, speakers, keep_events: int):
        super().__init__()
        self.last_frame: dict[str, np.ndarray | None] = dict.fromkeys(speakers)
        self.events: collections.deque[TurnEvent] = collections.deque(maxlen=keep_events)
        self.sync: dict[str, object] = {}
        self.turn_end = None  # the latest turn_end event

    def _write(self, upd: Update) -> None:
        if upd.turn_end:
            self.turn_end = upd.turn_end[-1]
        for spk, rec in upd.frames.items():
            if len(rec):
                self.last_frame[spk] = rec  # the row is read when asked for
        self.events.extend(upd.events)
        for r in upd.synchrony:
            self.sync[r.feature] = r


class AgentSession(Duplex):
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

    Constructing the first session of a process loads the engine's kernels (about 0.7 s, see
    :mod:`prosync.engine.warm`), so that the first push does not stall the agent's event loop.
    """

    def __init__(self, sample_rate: int = 16000, speakers: Sequence[str] = ("user", "agent"), *,
                 pad_agent: bool = True, config: Config | None = None, two_mics: bool = True,
                 on_update: Callable[[Update], None] | None = None, keep_events: int = 32):
        if len(tuple(speakers)) != 2:
            raise ProsyncError(f"speakers={tuple(speakers)!r}: an agent session has two speakers, "
                               "the user then the agent")
        session = Session(tuple(speakers), sample_rate=sample_rate, config=config,
                          two_mics=two_mics)
        self._latest = _Latest(session.speakers, keep_events)
        super().__init__(session, pad_agent=pad_agent, sinks=[self._latest])
        if on_update is not None:
            self.subscribe(on_update)

    # ------------------------------------------------------------------ input
    def push_user(self, samples) -> Update:
        """The user's microphone audio (int16 PCM or float, 1-D), as it arrives."""
        return self.push(USER, samples)

    def push_agent(self, samples) -> Update:
        """The agent's own speech, pushed as it is played (int16 PCM or float, 1-D)."""
        return self.push(AGENT, samples)

    def close(self) -> Update:
        """End of input: the last frames and turn events; async iterators end after them."""
        with self._lock:
            if self.session.closed:
                return Update()
            upd = super().close()
            streams = [s for s in self.sinks if isinstance(s, UpdateStream)]
        for s in streams:
            s.close()
        return upd

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---------------------------------------------------------- subscriptions
    def subscribe(self, callback: Callable[[Update], None]) -> Callable[[], None]:
        """Call ``callback(update)`` for every non-empty update; returns an unsubscribe function.

        The callback runs in the thread that pushed the audio, under the session's lock.
        """
        sink = CallbackSink(callback)
        self.add_sink(sink)

        def unsubscribe():
            self.remove_sink(sink)

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
                self.add_sink(stream)
        return stream

    # ------------------------------------------------------------ read back
    def pacing(self) -> PacingRow | None:
        """The latest pacing advice (``None`` until both speakers have 100 ms of frames)."""
        return self.session.pacing()

    def position_s(self, speaker=USER) -> float:
        """Seconds of ``speaker``'s audio pushed so far (padding included)."""
        i = self.index(speaker)
        with self._lock:
            return self._pos[i] / self.sample_rate

    def turn_end_prob(self) -> float:
        """The user's latest end-of-turn probability (see :mod:`prosync.engine.endofturn`):
        NaN while they speak; rises while they stay silent."""
        return self.session.turn_end_prob()

    @property
    def last_turn_end(self):
        """The latest ``turn_end`` event (:class:`prosync.engine.endofturn.TurnEndEvent`)."""
        return self._latest.turn_end

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
            f = self._latest.last_frame[self.speakers[USER]]
            return bool(f["speech"][-1]) if f is not None else False

    def silence_s(self, speaker=USER) -> float:
        """How long ``speaker`` has been silent up to the latest final frame (0 while speaking)."""
        i = self.index(speaker)
        with self._lock:
            sp = self.stats.recent_frames(self.speakers[i])["speech"]  # the last 60 s at most
            nz = np.flatnonzero(sp)
            return float(sp.shape[0] - 1 - nz[-1] if nz.size else sp.shape[0]) * HOP_S

    def latest(self) -> dict:
        """The latest final values: ``{"t_s", "frames": {speaker: row dict}, "events": [...],
        "synchrony": {feature: SyncRow}, "pacing": PacingRow | None}``."""
        with self._lock:
            frames = {}
            t = float("nan")
            for spk, rec in self._latest.last_frame.items():
                if rec is not None:
                    f = rec[-1]
                    frames[spk] = {k: f[k].item() for k in f.dtype.names}
                    t = frames[spk]["t_s"]
            return {"t_s": t, "frames": frames, "events": list(self._latest.events),
                    "synchrony": dict(self._latest.sync), "pacing": self.session.pacing()}

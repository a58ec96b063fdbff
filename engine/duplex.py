"""The duplex driver: one :class:`~prosync.engine.session.Session` driven by any door.

Every door (``prosync score``, ``prosync live``, ``prosync corpus``, the WebSocket server, the
agent API and the Pipecat processor) feeds the engine through :class:`Duplex`, which holds what
they all need around a session:

* **time alignment**: the session joins the two speakers' frames in time, so a stream that is
  pushed only while its speaker talks (an agent's speech) must be padded. With
  ``pad_agent=True`` every block of speaker 0 is followed by silence on speaker 1 up to speaker
  0's time, and speaker 1's audio is placed at speaker 0's current time.
* **merging**: one push returns one :class:`~prosync.engine.session.Update` (the padding's
  rows merged in), stamped with the compute time of the whole push (``compute_s``).
* **the running summary** (:class:`~prosync.engine.summary.SessionSummary`) with the audio
  checks (clipping, silence, DC offset), fed in batches so that tiny pushes stay cheap;
* **sinks**: every non-empty update goes to each sink's ``write(update)`` in the pushing thread;
  :meth:`Duplex.finish` closes the session, builds the summary and closes the sinks with it
  (``close(summary)``), and :meth:`Duplex.abort` aborts them (``abort()``). The sink contract
  and its implementations live in :mod:`prosync.streams.sink`.
* **the session-level synchrony test**, off by default (offline, the summary has the final
  one): with ``session_test_every_s`` set (the live doors), every that much session time the
  test runs in a worker thread (:class:`~prosync.engine.session_sync.SessionTests`) and its rows
  ride on the next update delivered (``Update.session_sync``; :meth:`Duplex.close` waits for a
  running one).

Pushes and closes are serialised by a lock: one producer thread per speaker is fine.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Protocol

import numpy as np

from .errors import ProsyncError
from .session import Session, Update, _as_float32
from .session_sync import SessionTests
from .summary import SessionSummary

__all__ = ["Duplex", "Sink", "merge_updates"]

#: Frames per speaker gathered before they reach the running summary (0.5 s): the summary's cost
#: is per call, so a stream of 10 ms pushes is summarised in batches.
STATS_BATCH_FRAMES = 50
#: Audio blocks per speaker gathered before the audio checks see them.
STATS_BATCH_BLOCKS = 64


class Sink(Protocol):
    """Where updates go (implementations: :mod:`prosync.streams.sink`)."""

    def write(self, update: Update) -> None: ...

    def close(self, summary: dict | None = None) -> list: ...

    def abort(self) -> None: ...


class Duplex:
    """A session with alignment, merging, timing, a running summary and sinks.

    Parameters
    ----------
    session : Session
    pad_agent : bool
        Keep speaker 1's stream level with speaker 0's by pushing silence (see the module doc).
    sinks : sequence of sinks
        Each gets ``write(update)`` for every non-empty update, then ``close(summary)`` from
        :meth:`finish` (in this order) or ``abort()`` from :meth:`abort`.
    session_test_every_s : float, optional
        Run the session-level synchrony test every this much session time (two speakers with
        synchrony; see the module doc). None (default): never.
    """

    def __init__(self, session: Session, *, pad_agent: bool = False, sinks: Sequence = (),
                 session_test_every_s: float | None = None):
        if pad_agent and len(session.speakers) != 2:
            raise ProsyncError("pad_agent needs two speakers: the user then the agent")
        self.session = session
        self.speakers = session.speakers
        self.sample_rate = session.sample_rate
        self.pad_agent = pad_agent
        self.sinks = list(sinks)
        self._lock = threading.RLock()
        n = len(self.speakers)
        self._pos = [0] * n  # samples pushed per speaker, padding included
        self._stats = SessionSummary(self.speakers)
        self._stats_pending: list[Update] = []
        self._stats_frames = 0
        self._audio_pending: list[list[np.ndarray]] = [[] for _ in range(n)]
        self._summary_cache: dict | None = None
        self.finished = False
        self._tests = (SessionTests(session, session_test_every_s)
                       if session_test_every_s is not None and session._sync is not None
                       else None)

    # ------------------------------------------------------------------ input
    @property
    def lookahead_s(self) -> float:
        return self.session.lookahead_s

    @property
    def closed(self) -> bool:
        return self.session.closed

    @property
    def time_s(self) -> float:
        """Seconds of audio pushed so far (the later of the speakers' positions)."""
        with self._lock:
            return max(self._pos) / self.sample_rate

    def index(self, speaker) -> int:
        return self.session._index(speaker)

    def push(self, speaker, samples) -> Update:
        """Push one speaker's audio (name or index; int16 PCM or float, 1-D); returns what became
        final, padding included, as one update."""
        t0 = time.perf_counter()
        i = self.index(speaker)
        x = _as_float32(samples)  # validates (1-D, finite) before anything is pushed
        with self._lock:
            parts = []
            if self.pad_agent and i == 1 and self._pos[1] < self._pos[0]:
                parts.append(self._pad(self._pos[0] - self._pos[1]))
            parts.append(self.session.push(i, x))
            # the audio checks read the block later (batched): keep it from the caller's reuse
            self._audio(i, x.copy() if x is samples else x)
            self._pos[i] += x.shape[0]
            if self.pad_agent and i == 0 and self._pos[1] < self._pos[0]:
                parts.append(self._pad(self._pos[0] - self._pos[1]))
            upd = merge_updates(parts)
            if self._tests is not None:
                rows = self._tests.poll(max(self._pos) / self.sample_rate)
                if rows:
                    upd.session_sync = [*upd.session_sync, *rows]
            upd.compute_s = time.perf_counter() - t0
            self._deliver(upd)
            return upd

    def feed(self, blocks: Sequence[np.ndarray]) -> Update:
        """One block per speaker, covering the same stretch of time (an empty block: that
        speaker's audio has ended); returns their updates merged."""
        if len(blocks) != len(self.speakers):
            raise ProsyncError(f"{len(blocks)} audio blocks for {len(self.speakers)} speakers: "
                               "give one block per speaker")
        parts = []
        for i, b in enumerate(blocks):
            if len(b):
                parts.append(self.push(i, b))
        return merge_updates(parts)

    def _pad(self, n: int) -> Update:
        upd = self.session.push(1, np.zeros(n, dtype=np.float32))
        self._pos[1] += n
        return upd

    def _audio(self, i: int, x: np.ndarray) -> None:
        pend = self._audio_pending[i]
        pend.append(x)
        if len(pend) >= STATS_BATCH_BLOCKS:  # bounded even when no frames are joined
            self._flush_audio(i)

    def close(self) -> Update:
        """End of input for every speaker: the last frames and turn events (idempotent)."""
        with self._lock:
            if self.session.closed:
                return Update()
            upd = self.session.close()
            if self._tests is not None:
                rows = self._tests.wait()
                self._tests.close()
                self._tests = None
                if rows:
                    upd.session_sync = [*upd.session_sync, *rows]
            self._deliver(upd)
            return upd

    # ----------------------------------------------------------------- output
    def add_sink(self, sink) -> None:
        with self._lock:
            self.sinks.append(sink)

    def remove_sink(self, sink) -> None:
        with self._lock:
            if sink in self.sinks:
                self.sinks.remove(sink)

    def _deliver(self, upd: Update) -> None:
        if not upd:
            return
        self._stats_pending.append(upd)
        self._stats_frames += max((len(r) for r in upd.frames.values()), default=0)
        if self._stats_frames >= STATS_BATCH_FRAMES or self.session.closed:
            self._flush_stats()
        self._summary_cache = None
        for s in list(self.sinks):
            s.write(upd)

    def _flush_audio(self, i: int) -> None:
        blocks = self._audio_pending[i]
        if blocks:
            self._stats.audio(i, np.concatenate(blocks) if len(blocks) > 1 else blocks[0])
            blocks.clear()

    def _flush_stats(self) -> None:
        for i in range(len(self.speakers)):
            self._flush_audio(i)
        if self._stats_pending:
            self._stats.update(merge_updates(self._stats_pending))
            self._stats_pending, self._stats_frames = [], 0

    @property
    def stats(self) -> SessionSummary:
        """The running summary, up to date."""
        with self._lock:
            self._flush_stats()
            return self._stats

    def summary(self, sources=None, warnings: Sequence[str] = ()) -> dict:
        """The session summary so far (the ``summary.json`` content), with the audio warnings.

        ``sources``: one object per speaker with ``path`` and ``channel`` (0-based or None)
        naming it in the warnings (default: ``speaker 'NAME'``); ``warnings``: more of them,
        listed first.
        """
        with self._lock:
            self._flush_stats()
            if self._summary_cache is None or sources is not None or warnings:
                if sources is None:
                    sources = [SimpleNamespace(path=f"speaker {s!r}", channel=None)
                               for s in self.speakers]
                s = self._stats.summary(self.time_s, self.session)
                s["warnings"] = list(warnings) + self._stats.check_audio(sources)
                self._summary_cache = s
            return self._summary_cache

    def finish(self, sources=None, warnings: Sequence[str] = (), extra: dict | None = None,
               release: bool = False, edit=None) -> dict:
        """Close the session, build the summary (plus ``extra`` keys, then ``edit(summary)``
        applied) and close every sink with it, in order. A sink that fails aborts the sinks not
        yet closed, then the error goes on.

        ``release``: drop the session and the running statistics before the sinks close (a report
        drawn at the end does not add to the engine's memory); :attr:`baselines` stay.
        """
        with self._lock:
            try:
                self.close()
                summary = dict(self.summary(sources, warnings))
                summary.update(extra or {})
                if edit is not None:
                    edit(summary)
            except BaseException:
                self.abort()
                raise
            self.baselines = self.session.baselines
            self.finished = True
            if release:
                self.session = self._stats = None
            self._summary_cache = summary
            sinks, self.sinks = self.sinks, []
            self._stats_pending = []
        files: list = []
        for k, s in enumerate(sinks):
            try:
                files += s.close(summary) or []
            except BaseException:
                for t in sinks[k + 1:]:
                    t.abort()
                raise
        self.files = files
        return summary

    def abort(self) -> None:
        """Abort every sink (nothing half-written is left where a finished file would be)."""
        with self._lock:
            sinks, self.sinks = self.sinks, []
            if self._tests is not None:
                self._tests.close()
                self._tests = None
        for s in sinks:
            try:
                s.abort()
            except Exception:  # noqa: BLE001 - abort the others whatever happens
                pass


def merge_updates(parts: Sequence[Update]) -> Update:
    """One :class:`Update` holding the rows of several consecutive ones, in order (its
    ``compute_s`` is their sum, empty ones included)."""
    total = sum(p.compute_s for p in parts)
    parts = [p for p in parts if p]
    if len(parts) == 1:
        return parts[0] if parts[0].compute_s == total else dataclasses.replace(parts[0],
                                                                                 compute_s=total)
    out = Update(compute_s=total)
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
        out.session_sync.extend(p.session_sync)
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

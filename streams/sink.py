"""The sink contract: where a session's updates go.

Every sink has three methods, called by the engine's :class:`~prosync.engine.duplex.Duplex`:

* ``write(update)`` for every non-empty :class:`~prosync.engine.session.Update`, in order, in
  the pushing thread;
* ``close(summary=None) -> list[Path]`` once at the end, with the session summary (the
  ``summary.json`` content); returns the files it finished (empty for a stream);
* ``abort()`` instead of ``close`` when the session fails or is interrupted: a file sink leaves
  no half-written file where a finished one would be (a crash-safe journal keeps what it has).

``write`` after ``close`` or ``abort`` raises :class:`~prosync.engine.errors.ProsyncError`;
a second ``close`` or ``abort`` does nothing. Implementations: the Parquet session folder
(:class:`prosync.streams.parquet.SessionWriter`), the Arrow IPC journal of a recording
(:class:`prosync.streams.journal.Recorder`), JSON lines (:class:`prosync.streams.jsonl.
JsonlSink`), a WebSocket session (:class:`prosync.streams.ws_server.Connection`), a callback
(:class:`CallbackSink`) and the agent API's async iterators and report
(:class:`prosync.report.ReportSink`).
"""

from __future__ import annotations

from collections.abc import Callable

from ..engine.errors import ProsyncError
from ..engine.session import Update

__all__ = ["CallbackSink", "Sink"]


class Sink:
    """Base class: subclasses implement ``_write``, and ``_close``/``_abort`` where needed."""

    def __init__(self):
        self.closed = False

    def write(self, update: Update) -> None:
        if self.closed:
            raise ProsyncError(f"write() after close() of {type(self).__name__}: a sink takes the "
                               "updates of one session; make a new sink for another")
        self._write(update)

    def close(self, summary: dict | None = None) -> list:
        if self.closed:
            return []
        self.closed = True
        return self._close(summary) or []

    def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._abort()

    # to implement
    def _write(self, update: Update) -> None:
        raise NotImplementedError

    def _close(self, summary: dict | None) -> list:
        return []

    def _abort(self) -> None:
        pass


class CallbackSink(Sink):
    """Calls ``fn(update)`` for every update (in the pushing thread: keep it short)."""

    def __init__(self, fn: Callable[[Update], None]):
        super().__init__()
        self.fn = fn

    def _write(self, update: Update) -> None:
        self.fn(update)

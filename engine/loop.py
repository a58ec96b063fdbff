"""The session loop: the one piece of code that moves audio from a source through a session into
sinks.

``prosync score``, each ``prosync corpus`` worker, ``prosync live`` and the Python API
(:func:`prosync.score`) call :func:`run_session`; the push-driven doors (the agent API, the
Pipecat processor, the WebSocket server) drive the same :class:`~prosync.engine.duplex.Duplex`
one push at a time and finish it the same way. Sources are in :mod:`prosync.streams` (files,
mono + RTTM split, microphones), sinks too (:mod:`prosync.streams.sink`).

A source is an object with

* ``blocks()``: an iterator of lists of audio blocks, one per speaker, each list covering the same
  stretch of time (an empty block: that speaker's audio has ended);
* ``total_s``: the session's length in seconds for the progress (``None`` when unknown, live);
* ``warnings``: problems found while opening it (a list of strings, may be empty);
* ``describe()``: one object per speaker with ``path`` and ``channel`` naming it in the audio
  warnings (clipping, silence, DC offset);
* optionally ``tail()``: an :class:`~prosync.engine.session.Update` of rows known only at the
  end (the RTTM's overlaps), written to the sinks but not summarised, and ``summary_extra()``:
  keys added to the summary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .duplex import Duplex
from .session import Session

__all__ = ["SessionResult", "run_session"]


@dataclass
class SessionResult:
    """What :func:`run_session` returns."""

    summary: dict
    #: Files the sinks finished, in order.
    files: list = field(default_factory=list)
    #: The speakers' baselines at the end (for a profile).
    baselines: dict = field(default_factory=dict)
    #: Why the loop stopped early (``stop()``'s answer), or None when the source ended.
    stopped: str | None = None

    @property
    def warnings(self) -> list[str]:
        return self.summary.get("warnings", [])


def run_session(source, session: Session, sinks: Sequence = (), *,
                progress: Callable[[float, float | None], None] | None = None,
                stop: Callable[[], str | None] | None = None,
                extra: Callable[[dict], dict | None] | dict | None = None,
                session_test_every_s: float | None = None) -> SessionResult:
    """Feed ``source`` through ``session`` into ``sinks`` and finish them with the summary.

    Parameters
    ----------
    source : a source (see the module doc).
    session : a new :class:`~prosync.engine.session.Session` for the source's speakers and rate.
    sinks : each gets every update (``write``), then ``close(summary)`` in this order; a sink
        with ``write_audio(blocks)`` also gets the source's raw blocks before they are pushed.
    progress : called as ``progress(done_s, total_s)`` after each list of blocks.
    stop : polled after each list of blocks; a true answer (the reason) ends the input there, and
        the session is finished normally with what it has.
    extra : keys added to the summary, or a function called with the summary at the end that
        edits it in place or returns keys to add.
    session_test_every_s : run the session-level synchrony test every this much session time,
        its rows in the updates (:class:`~prosync.engine.duplex.Duplex`); None (offline): never.

    On any exception (``KeyboardInterrupt`` included) the sinks are aborted and the error goes
    on: no sink leaves a half-written file where a finished one would be.
    """
    duplex = Duplex(session, sinks=sinks, session_test_every_s=session_test_every_s)
    del session  # the duplex holds it, and releases it before the sinks finish
    total = getattr(source, "total_s", None)
    audio_sinks = [s for s in duplex.sinks if hasattr(s, "write_audio")]
    stopped = None
    try:
        for blocks in source.blocks():
            for s in audio_sinks:
                s.write_audio(blocks)
            duplex.feed(blocks)
            if progress is not None:
                progress(duplex.time_s, total)
            if stop is not None:
                stopped = stop()
                if stopped:
                    break
        duplex.close()
        tail = source.tail() if hasattr(source, "tail") else None
        if tail:
            for s in duplex.sinks:
                s.write(tail)
    except BaseException:
        duplex.abort()
        raise

    def edit(summary: dict) -> None:
        if hasattr(source, "summary_extra"):
            summary.update(source.summary_extra())
        more = extra(summary) if callable(extra) else extra
        summary.update(more or {})

    summary = duplex.finish(source.describe(), getattr(source, "warnings", ()), edit=edit,
                            release=True)
    return SessionResult(summary, duplex.files, duplex.baselines, stopped)

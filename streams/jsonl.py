"""JSON form of the metric stream: the same fields as the offline tables, one schema for JSONL,
the WebSocket server and anything else that speaks JSON. Rows come from the record batches of
:func:`prosync.streams.arrow.update_batches`, so a missing value is ``null`` (never NaN) and
times print as exact milliseconds (``40.9``)."""

from __future__ import annotations

import json

from ..engine.schema import JSONL_TYPES, SCHEMA_VERSION
from ..engine.session import Update
from .arrow import json_rows, update_batches
from .sink import Sink

#: The tables of JSON messages (``series`` is in the Parquet output only, ``session_sync`` in
#: the JSON stream only).
JSON_TABLES = ("frames", "turns", "synchrony", "pacing", "end_of_turn", "turn_end", "session_sync")


def updates_to_dict(updates, frames: bool = True) -> dict:
    """``{"schema_version", "frames": [...], "turns": [...], "synchrony": [...], "pacing": [...],
    "end_of_turn": [...], "turn_end": [...], "session_sync": [...]}``
    with one dict per row of the merged ``updates``, keyed by the table columns; frames are
    ordered by time (speakers in order at equal times)."""
    d = {"schema_version": SCHEMA_VERSION, **{k: [] for k in JSON_TABLES}}
    for name, b in update_batches(updates, JSON_TABLES if frames else JSON_TABLES[1:]):
        d[name] = json_rows(b)
    return d


def update_to_dict(upd: Update) -> dict:
    """:func:`updates_to_dict` of one update."""
    return updates_to_dict([upd])


def update_to_jsonl(upd: Update) -> str:
    """One JSON line per row: ``{"type": <a JSONL_TYPES key>, ...}``."""
    d = update_to_dict(upd)
    out = []
    for kind, key in JSONL_TYPES.items():
        for row in d[key]:
            out.append(json.dumps({"type": kind, **row}, allow_nan=False))
    return "".join(line + "\n" for line in out)


class JsonlSink(Sink):
    """The metric stream as JSON lines on a text stream (``prosync live --jsonl -``); flushed
    after every update. A closed pipe (the reader went away) raises ``BrokenPipeError``, or with
    ``tolerate_closed`` sets :attr:`broken` and drops the rest."""

    def __init__(self, out, tolerate_closed: bool = False):
        super().__init__()
        self.out = out
        self.tolerate_closed = tolerate_closed
        self.broken = False

    def _write(self, upd: Update) -> None:
        if self.broken:
            return
        try:
            self.out.write(update_to_jsonl(upd))
            self.out.flush()
        except BrokenPipeError:
            if not self.tolerate_closed:
                raise
            self.broken = True

    def _close(self, summary=None) -> list:
        if not self.broken:
            try:
                self.out.flush()
            except BrokenPipeError:
                self.broken = True
        return []

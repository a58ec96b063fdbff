"""JSON form of the metric stream: the same fields as the offline tables, one schema for JSONL,
the WebSocket server and anything else that speaks JSON. NaN becomes ``null``."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np

from ..engine.schema import SCHEMA_VERSION
from ..engine.session import Update
from .sink import Sink

#: Frame columns sent (the ``frames.parquet`` columns).
FRAME_COLUMNS = ("t_s", "f0_hz", "voiced", "periodicity", "energy_db", "speech", "rate_sps",
                 "nucleus_age")


def _clean(v):
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def update_to_dict(upd: Update) -> dict:
    """``{"schema_version", "frames": [...], "turns": [...], "synchrony": [...], "pacing": [...]}``
    with one dict per row, keyed by the table columns (frames also carry ``speaker``)."""
    frames = []
    for spk, rec in upd.frames.items():
        cols = {c: rec[c].tolist() for c in FRAME_COLUMNS}
        for i in range(len(rec)):
            row = {"speaker": spk}
            for c in FRAME_COLUMNS:
                row[c] = _clean(cols[c][i])
            frames.append(row)
    frames.sort(key=lambda r: r["t_s"])
    return {
        "schema_version": SCHEMA_VERSION,
        "frames": frames,
        "turns": [{k: _clean(v) for k, v in dataclasses.asdict(e).items()} for e in upd.events],
        "synchrony": [{k: _clean(v) for k, v in dataclasses.asdict(r).items()}
                      for r in upd.synchrony],
        "pacing": [{k: _clean(v) for k, v in dataclasses.asdict(r).items()} for r in upd.pacing],
    }


def update_to_jsonl(upd: Update) -> str:
    """One JSON line per row: ``{"type": "frame"|"turn"|"synchrony"|"pacing", ...}``."""
    d = update_to_dict(upd)
    out = []
    for kind, key in (("frame", "frames"), ("turn", "turns"), ("synchrony", "synchrony"),
                      ("pacing", "pacing")):
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

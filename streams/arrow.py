"""Updates to Arrow: the one conversion every sink uses (Parquet, the Arrow IPC journal, JSONL,
WebSocket messages).

:func:`update_batches` turns an :class:`~prosync.engine.session.Update` (or consecutive
updates) into record batches of the output tables (:mod:`prosync.engine.schema`), built with
``pa.array``. Missing values become Arrow nulls here: NaN in a nullable float column and ``''``
in a nullable string column (``turns.speaker``, ``speaker_before``, ``speaker_after``). JSON rows
are read back from the batches (:func:`json_rows`), so a null is ``null`` in every JSON output.

Cost: the conversion runs in the sinks, never inside ``Session.push``. ``pa.array`` imports
pandas on first use when it is installed (about 40 MB, once per process); :func:`warm` does it
up front for servers.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence

import numpy as np
import pyarrow as pa

from ..engine import schema as S
from ..engine.session import Update


@functools.cache
def arrow_schema(name: str) -> pa.Schema:
    return S.arrow_schema(name)


#: The session tables' Arrow schemas, in the order their batches come (the files' tables:
#: ``session_sync``, rows of the JSON stream only, comes when asked for by name).
TABLES = {name: arrow_schema(name) for name in S.SESSION_TABLES}


def _arrays(cols: list[S.Column], values: list) -> list[pa.Array]:
    """Columns of one type as Arrow arrays, NaN (floats) and ``''`` (nullable strings) as null.

    Numeric columns of one type are converted by one ``pa.array`` call on their stacked values
    and sliced (zero-copy): one call per type instead of one per column, since each call costs
    several microseconds whatever its length.
    """
    kind = cols[0].type
    type_ = getattr(pa, S.TYPES[kind][1])()
    if kind == "string":
        return [pa.array([v if v else None for v in vals] if c.nullable else list(vals), type=type_)
                for c, vals in zip(cols, values)]
    flat = np.array(values, dtype=S.TYPES[kind][0]).ravel()
    arr = pa.array(flat, type=type_, from_pandas=kind.startswith("float"))  # NaN is null
    n = len(flat) // len(cols)
    return [arr.slice(i * n, n) for i in range(len(cols))]


def columns_batch(table: str, cols: dict) -> pa.RecordBatch:
    """A batch of ``table`` from ``{column or source name: values}`` (arrays or lists)."""
    t = S.table(table)
    by_type: dict[str, list[S.Column]] = {}
    for c in t.columns:
        by_type.setdefault(c.type, []).append(c)
    arrays = {}
    for group in by_type.values():
        vals = [cols[c.source] if c.source in cols else cols[c.name] for c in group]
        arrays.update(zip((c.name for c in group), _arrays(group, vals)))
    return pa.RecordBatch.from_arrays([arrays[n] for n in t.names], schema=arrow_schema(table))


def rows_batch(table: str, rows: Sequence) -> pa.RecordBatch:
    """A batch of ``table`` from dataclass rows (TurnEvent, SyncRow, PacingRow)."""
    t = S.table(table)
    return columns_batch(table, {c.name: [getattr(r, c.source or c.name) for r in rows]
                                 for c in t.columns})


def _per_speaker(table: str, parts: dict[str, list]) -> pa.RecordBatch:
    """Rows of every speaker (``{speaker: [record arrays or dicts of columns]}``) ordered by
    ``t_s``, speakers in order at equal times: the same rows however the audio was pushed."""
    t = S.table(table)
    cols = {}
    for c in t.columns:
        if c.name == "speaker":
            continue
        key = c.source or c.name
        cols[key] = np.concatenate([np.asarray(p[key]) for ps in parts.values() for p in ps])
    names = np.repeat(np.array(list(parts), dtype=object),
                      [sum(len(p["t_s"]) for p in ps) for ps in parts.values()])
    if len(parts) > 1:
        order = np.argsort(cols["t_s"], kind="stable")
        cols = {k: v[order] for k, v in cols.items()}
        names = names[order]
    cols["speaker"] = names.tolist()
    return columns_batch(table, cols)


def update_batches(updates: Update | Iterable[Update],
                   tables: Collection[str] = TABLES) -> list[tuple[str, pa.RecordBatch]]:
    """The rows of one update (or of consecutive updates, merged) as ``(table, batch)`` pairs
    in the order of :data:`TABLES`; tables without rows are left out.

    Frames and series rows are ordered by time across speakers (speakers in order at equal
    times), so the rows do not depend on how the updates were grouped. ``tables``: the tables
    wanted (default all). Sinks may pass several updates at once: fewer, longer arrays cost less.
    """
    ups = [updates] if isinstance(updates, Update) else list(updates)
    fr: dict[str, list] = {}
    se: dict[str, list] = {}
    for u in ups:
        for spk, rec in u.frames.items():
            if len(rec):
                fr.setdefault(spk, []).append(rec)
        for spk, b in u.series.items():
            if len(b["t_s"]):
                se.setdefault(spk, []).append(b)
    out = []
    if fr and "frames" in tables:
        out.append(("frames", _per_speaker("frames", fr)))
    for name, attr in (("turns", "events"), ("synchrony", "synchrony"), ("pacing", "pacing")):
        rows = [r for u in ups for r in getattr(u, attr)] if name in tables else None
        if rows:
            out.append((name, rows_batch(name, rows)))
    if se and "series" in tables:
        out.append(("series", _per_speaker("series", se)))
    eot = [u.end_of_turn for u in ups if len(u.end_of_turn)]
    if eot and "end_of_turn" in tables:
        rec = eot[0] if len(eot) == 1 else np.concatenate(eot)
        out.append(("end_of_turn", columns_batch("end_of_turn",
                                                 {k: rec[k] for k in rec.dtype.names})))
    te = [r for u in ups for r in u.turn_end] if "turn_end" in tables else None
    if te:
        out.append(("turn_end", rows_batch("turn_end", te)))
    ss = [r for u in ups for r in u.session_sync] if "session_sync" in tables else None
    if ss:
        out.append(("session_sync", rows_batch("session_sync", ss)))
    return out


def _pylist(col: pa.Array) -> list:
    """``col.to_pylist()`` through NumPy (per-value scalars cost 10x more): a null is ``None``
    (float nulls come back from NumPy as NaN, which only a null can be here)."""
    vals = col.to_numpy(zero_copy_only=False).tolist()
    if col.null_count and pa.types.is_floating(col.type):
        return [None if v != v else v for v in vals]
    return vals


def json_rows(batch: pa.RecordBatch) -> list[dict]:
    """The batch's rows as JSON-ready dicts (nulls are ``None``, floats and ints Python's)."""
    if batch.num_rows < 4:  # per-value scalars are cheaper than per-column NumPy here
        return batch.to_pylist()
    names = batch.schema.names
    return [dict(zip(names, vals)) for vals in zip(*(_pylist(c) for c in batch.columns))]


def warm() -> None:
    """Pay ``pa.array``'s one-time imports now (servers call it before their first client)."""
    update_batches(Update())
    columns_batch("turns", {c.name: [""] if c.type == "string" else [0.0] for c in S.TURNS.columns})

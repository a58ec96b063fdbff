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
from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa

from ..engine import schema as S
from ..engine.session import Update


@functools.cache
def arrow_schema(name: str) -> pa.Schema:
    return S.arrow_schema(name)


#: The session tables' Arrow schemas, in the order their batches come.
TABLES = {name: arrow_schema(name) for name in S.SESSION_TABLES}


def _array(c: S.Column, values) -> pa.Array:
    """One column as an Arrow array, NaN and (nullable strings) ``''`` as null."""
    type_ = getattr(pa, S.TYPES[c.type][1])()
    if c.type == "string":
        if c.nullable:
            values = [v if v else None for v in values]
        return pa.array(values, type=type_)
    arr = np.asarray(values, dtype=S.TYPES[c.type][0])
    if c.type.startswith("float"):
        return pa.array(arr, type=type_, from_pandas=True)  # from_pandas: NaN is null
    return pa.array(arr, type=type_)


def columns_batch(table: str, cols: dict) -> pa.RecordBatch:
    """A batch of ``table`` from ``{column or source name: values}`` (arrays or lists)."""
    t = S.table(table)
    arrays = [_array(c, cols[c.source or c.name] if (c.source or c.name) in cols else cols[c.name])
              for c in t.columns]
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema(table))


def rows_batch(table: str, rows: Sequence) -> pa.RecordBatch:
    """A batch of ``table`` from dataclass rows (TurnEvent, SyncRow, PacingRow)."""
    t = S.table(table)
    return columns_batch(table, {c.name: [getattr(r, c.source or c.name) for r in rows]
                                 for c in t.columns})


def _per_speaker(table: str, parts: dict[str, list], interleave: bool) -> pa.RecordBatch:
    """Rows of every speaker (``{speaker: [record arrays or dicts of columns]}``): speaker by
    speaker, or ordered by ``t_s`` (stable: speakers in order at equal times)."""
    t = S.table(table)
    names, cols = [], {}
    for c in t.columns:
        if c.name == "speaker":
            continue
        key = c.source or c.name
        cols[key] = np.concatenate([np.asarray(p[key]) for ps in parts.values() for p in ps])
    for spk, ps in parts.items():
        names += [spk] * sum(len(p["t_s"]) for p in ps)
    if interleave and len(parts) > 1:
        order = np.argsort(cols["t_s"], kind="stable")
        cols = {k: v[order] for k, v in cols.items()}
        names = [names[i] for i in order]
    cols["speaker"] = names
    return columns_batch(table, cols)


def update_batches(updates: Update | Iterable[Update], interleave: bool = False,
                   frames: bool = True) -> list[tuple[str, pa.RecordBatch]]:
    """The rows of one update (or of consecutive updates, merged) as ``(table, batch)`` pairs
    in the order of :data:`TABLES`; tables without rows are left out.

    ``interleave``: frames and series rows ordered by time across speakers (JSON messages);
    else speaker by speaker (the Parquet files). ``frames=False`` leaves the frames out.
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
    if fr and frames:
        out.append(("frames", _per_speaker("frames", fr, interleave)))
    for name, attr in (("turns", "events"), ("synchrony", "synchrony"), ("pacing", "pacing")):
        rows = [r for u in ups for r in getattr(u, attr)]
        if rows:
            out.append((name, rows_batch(name, rows)))
    if se:
        out.append(("series", _per_speaker("series", se, interleave)))
    eot = [u.end_of_turn for u in ups if len(u.end_of_turn)]
    if eot:
        rec = eot[0] if len(eot) == 1 else np.concatenate(eot)
        out.append(("end_of_turn", columns_batch("end_of_turn",
                                                 {k: rec[k] for k in rec.dtype.names})))
    te = [r for u in ups for r in u.turn_end]
    if te:
        out.append(("turn_end", rows_batch("turn_end", te)))
    return out


def json_rows(batch: pa.RecordBatch) -> list[dict]:
    """The batch's rows as JSON-ready dicts (nulls are ``None``)."""
    return batch.to_pylist()


def warm() -> None:
    """Pay ``pa.array``'s one-time imports now (servers call it before their first client)."""
    update_batches(Update())
    _array(S.FRAMES.column("f0_hz"), np.zeros(1, np.float32))
    _array(S.TURNS.column("speaker"), [""])

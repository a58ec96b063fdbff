"""Updates to Arrow: the one conversion every Arrow sink uses (Parquet, the IPC journal).

:func:`update_batches` turns an :class:`~prosync.engine.session.Update` into record batches of
the output tables' schemas (:mod:`prosync.engine.schema`). Record batches are built from raw
buffers (:func:`column`), never with ``pa.array``: pyarrow's ``pa.array``/``from_pylist`` import
pandas on first use (about 50 MB of memory), which a 60-minute offline run cannot afford.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..engine.schema import FRAMES, PACING, SERIES, SYNCHRONY, TURNS
from ..engine.session import Update

#: The output tables, in the order their batches come.
TABLES = {"frames": FRAMES, "turns": TURNS, "synchrony": SYNCHRONY, "pacing": PACING,
          "series": SERIES}

_NUMPY = {pa.float64(): np.float64, pa.float32(): np.float32, pa.int16(): np.int16,
          pa.int32(): np.int32, pa.int64(): np.int64}


def _bits(mask: np.ndarray) -> pa.Buffer:
    return pa.py_buffer(np.packbits(np.asarray(mask, dtype=bool), bitorder="little"))


def column(values, type_: pa.DataType) -> pa.Array:
    """A pyarrow array of ``type_`` from a numpy array or a list, without ``pa.array``.

    Floats keep NaN as NaN (as ``pa.array`` does on numpy input); ``None`` in a string or float
    list becomes a null.
    """
    if pa.types.is_string(type_):
        vals = list(values)
        n = len(vals)
        valid = np.array([v is not None for v in vals], dtype=bool)
        enc = [(v if v is not None else "").encode() for v in vals]
        offs = np.zeros(n + 1, dtype=np.int32)
        if n:
            np.cumsum([len(e) for e in enc], out=offs[1:])
        validity = None if valid.all() else _bits(valid)
        return pa.Array.from_buffers(type_, n, [validity, pa.py_buffer(offs),
                                                pa.py_buffer(b"".join(enc))],
                                     null_count=int(n - valid.sum()))
    if pa.types.is_boolean(type_):
        arr = np.asarray(values, dtype=bool)
        return pa.Array.from_buffers(type_, len(arr), [None, _bits(arr)])
    dt = _NUMPY[type_]
    if isinstance(values, list) and any(v is None for v in values):
        valid = np.array([v is not None for v in values], dtype=bool)
        arr = np.array([0 if v is None else v for v in values], dtype=dt)
        return pa.Array.from_buffers(type_, len(arr), [_bits(valid), pa.py_buffer(arr)],
                                     null_count=int((~valid).sum()))
    arr = np.ascontiguousarray(values, dtype=dt)
    return pa.Array.from_buffers(type_, len(arr), [None, pa.py_buffer(arr)])


def batch(cols: dict, schema: pa.Schema) -> pa.RecordBatch:
    """A record batch of ``schema`` from ``{name: values}`` (numpy arrays or lists)."""
    return pa.RecordBatch.from_arrays([column(cols[f.name], f.type) for f in schema], schema=schema)


def frames_batch(speaker: str, cols: dict[str, np.ndarray]) -> pa.RecordBatch:
    n = len(cols["t_s"])
    d = {f.name: cols[f.name] for f in FRAMES if f.name != "speaker"}
    d["speaker"] = [speaker] * n
    return batch(d, FRAMES)


def turns_batch(events) -> pa.RecordBatch:
    ev = list(events)
    return batch({"kind": [e.kind for e in ev], "speaker": [e.speaker for e in ev],
                  "start_s": [float(e.start_s) for e in ev], "end_s": [float(e.end_s) for e in ev],
                  "fto_s": [float(e.fto_s) for e in ev],
                  "speaker_before": [e.speaker_before for e in ev],
                  "speaker_after": [e.speaker_after for e in ev]}, TURNS)


def series_batch(speaker: str, b: dict[str, np.ndarray]) -> pa.RecordBatch:
    n = len(b["t_s"])
    return batch({"speaker": [speaker] * n, "t_s": b["t_s"], "f0_st": b["f0"],
                  "energy_db": b["energy"], "rate_sps": b["rate"], "vad": b["vad"]}, SERIES)


def rows_batch(rows, schema: pa.Schema) -> pa.RecordBatch:
    """Dataclass rows (SyncRow, PacingRow) to a record batch of ``schema``."""
    return batch({n: [getattr(r, n) for r in rows] for n in schema.names}, schema)



def update_batches(upd: Update) -> list[tuple[str, pa.RecordBatch]]:
    """The rows of ``upd`` as ``(table, record batch)`` pairs (tables without rows left out)."""
    out = []
    for spk, cols in upd.frames.items():
        out.append(("frames", frames_batch(spk, cols)))
    if upd.events:
        out.append(("turns", turns_batch(upd.events)))
    if upd.synchrony:
        out.append(("synchrony", rows_batch(upd.synchrony, SYNCHRONY)))
    if upd.pacing:
        out.append(("pacing", rows_batch(upd.pacing, PACING)))
    for spk, b in upd.series.items():
        out.append(("series", series_batch(spk, b)))
    return out

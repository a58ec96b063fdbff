"""Parquet sinks. A file becomes visible only complete: rows go to a temporary name, which is
flushed (fsync) and renamed over the final name on :meth:`TableSink.close`.

Record batches are built from raw buffers (:func:`column`), never with ``pa.array``: pyarrow's
``pa.array``/``from_pylist`` import pandas on first use (about 50 MB of memory), which a
60-minute offline run cannot afford (the bench keeps ``prosync score`` under 300 MB).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..engine.schema import FRAMES, PACING, SERIES, SYNCHRONY, TURNS, metadata
from ..engine.session import Update

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


class TableSink:
    """Append record batches to ``path`` (written as ``.path.partial`` until closed).

    Rows are buffered into row groups of ``row_group_rows``; many small batches (a few rows per
    update) are merged every ``compact_batches`` batches, since each small batch costs far more
    memory than its rows.
    """

    def __init__(self, path: Path, schema: pa.Schema, table: str, extra_md=None,
                 row_group_rows: int = 65_536, compact_batches: int = 64):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.partial")
        self.schema = schema.with_metadata(metadata(table, extra_md))
        self._writer = pq.ParquetWriter(str(self.tmp), self.schema, compression="zstd")
        self._buf: list[pa.RecordBatch] = []
        self._rows = 0
        self._rg = row_group_rows
        self._compact = compact_batches

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self._buf.append(batch)
        self._rows += batch.num_rows
        if self._rows >= self._rg:
            self._flush()
        elif len(self._buf) >= self._compact:
            self._buf = pa.Table.from_batches(self._buf, self.schema).combine_chunks().to_batches()

    def _flush(self):
        if self._buf:
            self._writer.write_table(pa.Table.from_batches(self._buf, self.schema))
            self._buf = []
            self._rows = 0

    def close(self) -> Path:
        self._flush()
        self._writer.close()
        with open(self.tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(self.tmp, self.path)
        fsync_dir(self.path.parent)
        return self.path

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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


def row_dict(row) -> dict:
    return dataclasses.asdict(row)


class SessionWriter:
    """Writes a session's tables to ``out_dir`` as the updates arrive.

    """

    def __init__(self, out_dir: Path, extra_md=None):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.frames = TableSink(self.out_dir / "frames.parquet", FRAMES, "frames", extra_md)
        self.turns = TableSink(self.out_dir / "turns.parquet", TURNS, "turns", extra_md)
        self.synchrony = TableSink(self.out_dir / "synchrony.parquet", SYNCHRONY, "synchrony",
                                   extra_md)
        self.pacing = TableSink(self.out_dir / "pacing.parquet", PACING, "pacing", extra_md)
        self.series = TableSink(self.out_dir / "series.parquet", SERIES, "series", extra_md)
        self._sinks = [self.frames, self.turns, self.synchrony, self.pacing, self.series]

    def __call__(self, upd: Update) -> None:
        for spk, cols in upd.frames.items():
            self.frames.write(frames_batch(spk, cols))
        if upd.events:
            self.turns.write(turns_batch(upd.events))
        if upd.synchrony:
            self.synchrony.write(rows_batch(upd.synchrony, SYNCHRONY))
        if upd.pacing:
            self.pacing.write(rows_batch(upd.pacing, PACING))
        for spk, b in upd.series.items():
            self.series.write(series_batch(spk, b))

    def close(self) -> list[Path]:
        return [s.close() for s in self._sinks]

    def abort(self) -> None:
        for s in self._sinks:
            s.abort()

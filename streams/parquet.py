"""Parquet sinks. A file becomes visible only complete: rows go to a temporary name, which is
flushed and renamed over the final name on :meth:`TableSink.close`."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..engine.schema import FRAMES, PACING, SERIES, SYNCHRONY, TURNS, metadata
from ..engine.session import Update


class TableSink:
    """Append record batches to ``path`` (written as ``.path.partial`` until closed)."""

    def __init__(self, path: Path, schema: pa.Schema, table: str, extra_md=None,
                 row_group_rows: int = 200_000):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.partial")
        self.schema = schema.with_metadata(metadata(table, extra_md))
        self._writer = pq.ParquetWriter(str(self.tmp), self.schema, compression="zstd")
        self._buf: list[pa.RecordBatch] = []
        self._rows = 0
        self._rg = row_group_rows

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self._buf.append(batch)
        self._rows += batch.num_rows
        if self._rows >= self._rg:
            self._flush()

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
        return self.path

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def frames_batch(speaker: str, cols: dict[str, np.ndarray]) -> pa.RecordBatch:
    n = len(cols["t_s"])
    arrays = [
        pa.array([speaker] * n, pa.string()) if n else pa.array([], pa.string()),
        pa.array(cols["t_s"], pa.float64()),
        pa.array(cols["f0_hz"], pa.float32()),
        pa.array(cols["voiced"], pa.bool_()),
        pa.array(cols["periodicity"], pa.float32()),
        pa.array(cols["energy_db"], pa.float32()),
        pa.array(cols["speech"], pa.bool_()),
        pa.array(cols["rate_sps"], pa.float32()),
        pa.array(cols["nucleus_age"].astype(np.int16), pa.int16()),
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=FRAMES)


def turns_batch(events) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(
        [{"kind": e.kind, "speaker": e.speaker, "start_s": float(e.start_s),
          "end_s": float(e.end_s), "fto_s": float(e.fto_s),
          "speaker_before": e.speaker_before, "speaker_after": e.speaker_after} for e in events],
        schema=TURNS,
    )


def series_batch(speaker: str, b: dict[str, np.ndarray]) -> pa.RecordBatch:
    n = len(b["t_s"])
    return pa.RecordBatch.from_arrays(
        [pa.array([speaker] * n, pa.string()), pa.array(b["t_s"], pa.float64()),
         pa.array(b["f0"], pa.float64()), pa.array(b["energy"], pa.float64()),
         pa.array(b["rate"], pa.float64()), pa.array(b["vad"], pa.float64())], schema=SERIES)


def rows_batch(rows, schema: pa.Schema) -> pa.RecordBatch:
    """Dataclass rows (SyncRow, PacingRow) to a record batch of ``schema``."""
    names = schema.names
    cols = {n: [getattr(r, n) for r in rows] for n in names}
    return pa.RecordBatch.from_pydict(cols, schema=schema)


def row_dict(row) -> dict:
    return dataclasses.asdict(row)


class SessionWriter:
    """Writes a session's frames and turns to ``out_dir`` as the updates arrive."""

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

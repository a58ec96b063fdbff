"""Parquet sinks. A file becomes visible only complete: rows go to a temporary name, which is
flushed (fsync) and renamed over the final name on :meth:`TableSink.close`.

Record batches come from :func:`prosync.streams.arrow.update_batches`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..engine.schema import metadata
from ..engine.session import Update
from .arrow import TABLES, update_batches


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


class SessionWriter:
    """Writes a session's tables to ``out_dir`` as the updates arrive.

    """

    def __init__(self, out_dir: Path, extra_md=None):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.sinks = {t: TableSink(self.out_dir / f"{t}.parquet", schema, t, extra_md)
                      for t, schema in TABLES.items()}

    def __call__(self, upd: Update) -> None:
        for table, b in update_batches(upd):
            self.sinks[table].write(b)

    def close(self) -> list[Path]:
        return [s.close() for s in self.sinks.values()]

    def abort(self) -> None:
        for s in self.sinks.values():
            s.abort()

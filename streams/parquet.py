"""Parquet sinks. A file becomes visible only complete: rows go to a temporary name, which is
flushed (fsync) and renamed over the final name on :meth:`TableSink.close`
(:mod:`prosync.streams.atomic`). Record batches come from :mod:`prosync.streams.arrow`.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..engine.schema import metadata
from ..engine.session import Update
from .arrow import TABLES, update_batches
from .atomic import AtomicFile, fsync_dir, output_folder, write_json  # noqa: F401 - fsync_dir: re-exported
from .sink import Sink

#: Tables whose rows a file holds in time order rather than in the order they became final
#: (which depends on the block sizes pushed: a gap is final only with the IPU after it). Such a
#: table is held until :meth:`TableSink.close` (a turn event is one small row per IPU or silence).
TIME_ORDER = {"turns": [("start_s", "ascending"), ("end_s", "ascending"), ("kind", "ascending"),
                        ("speaker", "ascending")]}


class TableSink:
    """Append record batches to ``path`` (written as ``.path.partial`` until closed).

    Rows are buffered into row groups of ``row_group_rows``; many small batches (a few rows per
    update) are merged every ``compact_batches`` batches, since each small batch costs far more
    memory than its rows. A table of :data:`TIME_ORDER` is sorted when closed.
    """

    def __init__(self, path: Path, schema: pa.Schema, table: str, extra_md=None,
                 row_group_rows: int = 65_536, compact_batches: int = 64):
        self.path = Path(path)
        self._file = AtomicFile(self.path)
        self.tmp = self._file.tmp
        self.schema = schema.with_metadata(metadata(table, extra_md))
        self._writer = pq.ParquetWriter(str(self.tmp), self.schema, compression="zstd")
        self._buf: list[pa.RecordBatch] = []
        self._rows = 0
        self._rg = row_group_rows
        self._compact = compact_batches
        self._sort = TIME_ORDER.get(table)

    def write(self, rows: pa.RecordBatch) -> None:
        if rows.num_rows == 0:
            return
        self._buf.append(rows)
        self._rows += rows.num_rows
        if self._rows >= self._rg and self._sort is None:
            self._flush()
        elif len(self._buf) >= self._compact:
            self._buf = pa.Table.from_batches(self._buf, self.schema).combine_chunks().to_batches()

    def _flush(self):
        if self._buf:
            t = pa.Table.from_batches(self._buf, self.schema)
            self._writer.write_table(t.sort_by(self._sort) if self._sort else t,
                                     row_group_size=self._rg)
            self._buf = []
            self._rows = 0

    def close(self) -> Path:
        self._flush()
        self._writer.close()
        return self._file.commit()

    def abort(self) -> None:
        try:
            self._writer.close()
        except OSError:  # a full disk fails the close as it failed the write: the file goes anyway
            self._writer.is_open = False  # (and the writer's __del__ does not close it again)
        finally:
            self._file.discard()


class SessionWriter(Sink):
    """The ``prosync score`` folder as a sink: every table of ``TABLES`` as updates arrive, then
    ``summary.json`` on :meth:`close` (every file invisible until complete)."""

    def __init__(self, out_dir: Path, extra_md=None):
        super().__init__()
        self.out_dir = output_folder(out_dir)
        #: Every table and ``summary.json`` are in place (closed without an error).
        self.finished = False
        self.tables = {t: TableSink(self.out_dir / f"{t}.parquet", schema, t, extra_md)
                       for t, schema in TABLES.items()}
        self.turns = self.tables["turns"]

    def _write(self, upd: Update) -> None:
        for table, b in update_batches(upd):
            self.tables[table].write(b)

    __call__ = Sink.write

    def _close(self, summary: dict | None) -> list[Path]:
        try:
            files = [s.close() for s in self.tables.values()]
            if summary is not None:
                files.append(write_json(self.out_dir / "summary.json", summary))
        except BaseException:  # e.g. the disk filled: the tables not yet in place leave nothing
            self._abort()
            raise
        self.finished = True
        return files

    def _abort(self) -> None:
        for s in self.tables.values():
            s.abort()

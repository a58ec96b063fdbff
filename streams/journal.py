"""Crash-safe recording of a live session: raw audio as FLAC, metrics as a journal.

Layout of a recording folder while it runs (and after a crash)::

    audio.flac                 one file, a channel per speaker (one device), or
    audio_<speaker>.flac       one mono file per speaker (two devices)
    metrics/<table>-NNNNNN.arrows    the open journal: an Arrow IPC stream, one batch per flush
    metrics/<table>-NNNNNN.parquet   closed segments (written under a temporary name, renamed)

After a clean stop (:meth:`Recorder.close`) the segments are merged into ``frames.parquet``,
``turns.parquet``, ``synchrony.parquet``, ``pacing.parquet``, ``series.parquet`` and
``summary.json`` (the layout of ``prosync score``) and ``metrics/`` is removed.

What a SIGKILL loses: the metric rows not yet flushed (at most one batch, ``batch_s`` of
session time) and the audio still inside the FLAC encoder (under one FLAC block, 4096 samples).
Every journal batch is written through to the OS when it is made; a torn last batch is ignored by
:func:`read_table`. The FLAC header's sample count is kept up to date while recording (libsndfile
fills it in only on close), so an interrupted FLAC reads as a normal, slightly shorter file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

from ..engine.errors import ProsyncError
from ..engine.schema import metadata
from .arrow import TABLES, update_batches
from .atomic import output_folder, write_json
from .parquet import TableSink
from .sink import Sink


# --------------------------------------------------------------------------- audio
class FlacWriter:
    """int16 audio to FLAC, readable at any moment by another process after :meth:`flush`."""

    def __init__(self, path: Path, rate: int, channels: int, flush_s: float = 1.0):
        self.path = Path(path)
        self.f = sf.SoundFile(str(self.path), "w", samplerate=int(rate), channels=int(channels),
                              format="FLAC", subtype="PCM_16")
        self.rate = int(rate)
        self.n = 0
        self._flushed_at = 0
        self._every = int(flush_s * rate)
        self._fd = os.open(str(self.path), os.O_RDWR)
        self._blocksize = None

    def write(self, x: np.ndarray) -> None:
        if len(x):
            self.f.write(x)
            self.n += len(x)
            if self.n - self._flushed_at >= self._every:
                self.flush()

    def flush(self) -> None:
        self.f.flush()
        self._flushed_at = self.n
        self._patch_total()

    def _patch_total(self) -> None:
        """Write a safe sample count into STREAMINFO: the encoder has written every full block
        before the one it is filling, so claim the full blocks less one."""
        if self._blocksize is None:
            head = os.pread(self._fd, 42, 0)
            if len(head) < 42 or head[:4] != b"fLaC":
                return
            self._blocksize = int.from_bytes(head[10:12], "big") or 4096  # max blocksize
        bs = self._blocksize
        total = max(0, self.n // bs - 1) * bs
        raw = bytearray(os.pread(self._fd, 8, 18))  # rate(20) ch(3) bps(5) total(36)
        if len(raw) < 8:
            return
        v = int.from_bytes(raw, "big")
        v = (v & ~((1 << 36) - 1)) | (total & ((1 << 36) - 1))
        os.pwrite(self._fd, v.to_bytes(8, "big"), 18)

    def close(self) -> Path:
        os.close(self._fd)
        self.f.close()  # libsndfile writes the exact count and MD5
        return self.path


# --------------------------------------------------------------------------- metrics
class MetricJournal:
    """One table's journal: batches to an Arrow IPC stream, rolled into Parquet segments."""

    def __init__(self, folder: Path, table: str, segment_s: float, extra_md=None):
        self.folder = Path(folder)
        self.table = table
        self.schema = TABLES[table].with_metadata(metadata(table, extra_md))
        self.extra_md = extra_md
        self.segment_s = segment_s
        self.seq = 0
        self._pending: list[pa.RecordBatch] = []   # rows not yet in the journal
        self._segment: list[pa.RecordBatch] = []   # rows of the open segment (also in the journal)
        self._writer = None
        self._file = None
        self._opened_at = None

    def _open(self, t_s):
        self.seq += 1
        self._file = open(self.folder / f"{self.table}-{self.seq:06d}.arrows", "wb")
        self._writer = pa.ipc.new_stream(self._file, self.schema)
        self._opened_at = t_s

    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self._pending.append(batch)

    def flush(self, t_s: float) -> None:
        """Append the pending rows as one batch and write it through to the OS."""
        if self._pending:
            if self._writer is None:
                self._open(t_s)
            tab = pa.Table.from_batches(self._pending, self.schema).combine_chunks()
            for b in tab.to_batches():
                self._writer.write_batch(b)
                self._segment.append(b)
            self._file.flush()
            self._pending = []
        if self._writer is not None and t_s - self._opened_at >= self.segment_s:
            self.roll()

    def close(self) -> None:
        """Close the open journal file as it is (left for :func:`finalize`)."""
        if self._writer is not None:
            self._writer.close()
            self._file.close()
            self._writer = self._file = None

    def roll(self) -> None:
        """Close the journal into a Parquet segment (atomic), then delete the journal."""
        if self._writer is None:
            return
        self._writer.close()
        self._file.close()
        journal = Path(self._file.name)
        sink = TableSink(journal.with_suffix(".parquet"), TABLES[self.table], self.table,
                         self.extra_md)
        for b in self._segment:
            sink.write(b)
        sink.close()
        journal.unlink()
        self._writer = self._file = None
        self._segment = []


def read_table(folder: Path, table: str) -> pa.Table:
    """Every row of ``table`` in a recording: the final file if the session ended cleanly, else
    the closed segments and the journals up to their last complete batch."""
    folder = Path(folder)
    final = folder / f"{table}.parquet"
    if final.exists():
        return pq.read_table(final)
    parts = []
    mdir = folder / "metrics"
    seqs = {}
    if mdir.is_dir():
        for p in mdir.glob(f"{table}-*.*"):
            if p.suffix in (".parquet", ".arrows"):
                seqs.setdefault(p.stem, []).append(p)
    for stem in sorted(seqs):
        ps = {p.suffix: p for p in seqs[stem]}
        if ".parquet" in ps:   # rolled (a journal left beside it is a duplicate)
            parts.append(pq.read_table(ps[".parquet"]))
        else:
            parts.append(read_journal(ps[".arrows"], TABLES[table]))
    schema = TABLES[table]
    parts = [t.cast(schema) for t in parts if t.num_rows]
    return pa.concat_tables(parts) if parts else schema.empty_table()


def read_journal(path: Path, schema: pa.Schema | None = None) -> pa.Table:
    """An Arrow IPC stream read up to its last complete batch (a torn tail is ignored)."""
    batches = []
    try:
        with pa.OSFile(str(path), "rb") as f:
            reader = pa.ipc.open_stream(f)
            schema = reader.schema
            while True:
                try:
                    batches.append(reader.read_next_batch())
                except StopIteration:
                    break
    except (pa.ArrowInvalid, OSError, EOFError):
        pass
    if schema is None:
        raise ValueError(f"{path}: no complete schema in the journal")
    return pa.Table.from_batches(batches, schema)


class Recorder(Sink):
    """Everything a ``--record DIR`` session keeps: audio (FLAC) and metrics (journal).

    A sink: ``write(update)`` journals the rows, :meth:`write_audio` the raw blocks;
    ``close(summary)`` merges everything into the ``prosync score`` layout; ``abort()`` closes
    the files and leaves the journal for :func:`finalize` (``prosync recover``).
    """

    def __init__(self, folder, speakers, rate: int, one_file: bool, segment_s: float = 60.0,
                 batch_s: float = 0.25, extra_md=None):
        super().__init__()
        self.folder = output_folder(folder)
        self.speakers = tuple(speakers)
        mdir = self.folder / "metrics"
        clash = [p.name for p in self.folder.iterdir()
                 if p.suffix in (".flac", ".parquet") or p.name in ("metrics", "summary.json")]
        if clash:
            raise ProsyncError(f"{self.folder} already holds a recording ({clash[0]}): "
                               "give an empty or new folder")
        mdir.mkdir()
        md = {"speakers": ",".join(self.speakers), "sample_rate": str(rate)}
        md.update(extra_md or {})
        self.journals = {t: MetricJournal(mdir, t, segment_s, md) for t in TABLES}
        self.one_file = one_file
        if one_file:
            self.audio = [FlacWriter(self.folder / "audio.flac", rate, len(self.speakers))]
        else:
            self.audio = [FlacWriter(self.folder / f"audio_{s}.flac", rate, 1)
                          for s in self.speakers]
        self.batch_s = batch_s
        self._last_flush = 0.0
        self._t = 0.0
        self._updates: list = []

    def inputs(self) -> list[dict]:
        """The recorded audio as ``summary.json``'s ``inputs`` (one entry per speaker, as
        ``prosync score`` of the recording would list it)."""
        from types import SimpleNamespace

        from ..engine.summary import input_files

        for w in self.audio:
            w.flush()
        if self.one_file:
            w = self.audio[0]
            srcs = [SimpleNamespace(path=w.path, channel=i, sample_rate=w.rate, frames=w.n)
                    for i in range(len(self.speakers))]
        else:
            srcs = [SimpleNamespace(path=w.path, channel=0, sample_rate=w.rate, frames=w.n)
                    for w in self.audio]
        return input_files(srcs)

    def write_audio(self, blocks) -> None:
        """int16 blocks, one per speaker (equal lengths for one device)."""
        if self.one_file:
            n = min(len(b) for b in blocks)
            if n:
                self.audio[0].write(np.stack([b[:n] for b in blocks], 1))
        else:
            for w, b in zip(self.audio, blocks):
                w.write(b.reshape(-1, 1))

    def _write(self, upd) -> None:
        self._updates.append(upd)  # converted together at the flush: fewer, longer arrays
        for cols in upd.frames.values():
            if len(cols):
                self._t = max(self._t, float(cols["t_s"][-1]))
        if self._t - self._last_flush >= self.batch_s:
            self.flush()

    add = Sink.write

    def flush(self) -> None:
        for table, b in update_batches(self._updates):
            self.journals[table].add(b)
        self._updates = []
        for jr in self.journals.values():
            jr.flush(self._t)
        self._last_flush = self._t

    def _close(self, summary: dict | None = None) -> list[Path]:
        """Finish: close the audio, roll the journals, merge the segments into final tables."""
        files = [w.close() for w in self.audio]
        self.flush()
        for jr in self.journals.values():
            jr.roll()
        files += finalize(self.folder, summary)
        return files

    def _abort(self) -> None:
        """Keep what was recorded: audio closed, journal flushed (``prosync recover`` merges)."""
        for w in self.audio:
            w.close()
        self.flush()
        for jr in self.journals.values():
            jr.close()


def finalize(folder, summary: dict | None = None) -> list[Path]:
    """Merge a recording's segments and journals into the final tables (also after a crash)."""
    folder = Path(folder)
    files = []
    for t in TABLES:
        tab = read_table(folder, t)
        extra = None
        segs = sorted((folder / "metrics").glob(f"{t}-*.parquet"))
        if segs:
            md = pq.read_schema(segs[0]).metadata or {}
            extra = {k.decode()[8:]: v.decode() for k, v in md.items()
                     if k.startswith(b"prosync.")
                     and k not in (b"prosync.schema_version", b"prosync.table", b"prosync.columns")}
        sink = TableSink(folder / f"{t}.parquet", TABLES[t], t, extra)
        for b in tab.to_batches():
            sink.write(b)
        files.append(sink.close())
    if summary is not None:
        files.append(write_json(folder / "summary.json", summary))
    shutil.rmtree(folder / "metrics", ignore_errors=True)
    return files

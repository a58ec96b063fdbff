import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prosync import Session
from prosync.streams.arrow import TABLES, rows_batch
from prosync.streams.parquet import SessionWriter, TableSink
from tests.audio import dialogue


def test_table_sink_is_invisible_until_closed(tmp_path):
    sink = TableSink(tmp_path / "t.parquet", TABLES["turns"], "turns", row_group_rows=1)
    sink.write(rows_batch("turns", []))
    assert not (tmp_path / "t.parquet").exists()
    assert sink.tmp.exists()
    sink.close()
    assert (tmp_path / "t.parquet").exists() and not sink.tmp.exists()


def test_abort_leaves_nothing(tmp_path):
    sink = TableSink(tmp_path / "t.parquet", TABLES["turns"], "turns")
    sink.abort()
    assert list(tmp_path.iterdir()) == []


def test_session_writer_round_trip(tmp_path):
    a, b, _ = dialogue()
    s = Session()
    w = SessionWriter(tmp_path)
    w(s.push(0, a))
    w(s.push(1, b))
    w(s.close())
    files = w.close()
    names = sorted(f.name for f in files)
    assert names == ["end_of_turn.parquet", "frames.parquet", "pacing.parquet", "series.parquet",
                     "synchrony.parquet", "turn_end.parquet", "turns.parquet"]
    fr = pq.read_table(tmp_path / "frames.parquet")
    assert fr.num_rows == 2 * int(np.ceil(len(a) / 160))
    assert fr.schema.field("f0_hz").type == pa.float32()
    sync = pq.read_table(tmp_path / "synchrony.parquet").to_pylist()
    assert {r["feature"] for r in sync} == {"f0", "energy", "rate", "vad"}


def test_a_full_disk_at_close_leaves_no_temporary_and_no_traceback(tmp_path):
    """The disk fills while the tables are closed: one line, exit 2, no ``.partial`` left and no
    'Exception ignored in ParquetWriter.__del__' traceback (seen on a 40 kB tmpfs)."""
    import subprocess
    import sys

    import soundfile as sf

    a, b, _ = dialogue()
    sf.write(str(tmp_path / "s.wav"), np.stack([a, b], 1), 16000)
    code = (
        "import errno, sys, pyarrow.parquet as pq\n"
        "from prosync.cli import main\n"
        "def full(self, *a, **k):\n"
        "    raise OSError(errno.ENOSPC, 'Error writing bytes to file. Detail: [errno 28] No "
        "space left on device')\n"
        "pq.ParquetWriter.write_table = full\n"
        "pq.ParquetWriter.close = lambda self: full(self) if self.is_open else None\n"
        f"sys.exit(main(['score', {str(tmp_path / 's.wav')!r}, '--out', "
        f"{str(tmp_path / 'o')!r}, '--quiet']))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.splitlines() == [
        "prosync: error: Error writing bytes to file. Detail: [errno 28] No space left on device: "
        "free some disk space, or write the outputs to another disk"], p.stderr
    assert list((tmp_path / "o").iterdir()) == []

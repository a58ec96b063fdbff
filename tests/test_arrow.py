"""The one Update -> Arrow conversion: nulls for missing values in every output, exact times,
strict JSON. Checked the way a user reads the files: DuckDB on Parquet, pyarrow on the journal,
``json.loads`` refusing NaN tokens on JSONL."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from prosync import Session
from prosync.engine import schema as S
from prosync.engine.turns import TurnEvent
from prosync.streams.arrow import rows_batch, update_batches
from prosync.streams.jsonl import update_to_jsonl
from tests.audio import dialogue

duckdb = pytest.importorskip("duckdb")


def strict_json(text: str):
    """``json.loads`` that refuses NaN, Infinity and -Infinity (not JSON, yet Python writes them)."""
    def bad(tok):
        raise ValueError(f"non-JSON number {tok} in {text[:80]!r}")

    return json.loads(text, parse_constant=bad)


@pytest.fixture(scope="module")
def updates():
    a, b, _ = dialogue()
    s = Session()
    return [s.push(0, a), s.push(1, b), s.close()]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """The demo dialogue scored by ``prosync score`` (no shared data needed)."""
    from prosync.score import score

    d = tmp_path_factory.mktemp("scored")
    a, b, _ = dialogue()
    sf.write(d / "dialogue.wav", np.stack([a, b], 1), 16000, subtype="PCM_16")
    score([d / "dialogue.wav"], d / "out", report=False)
    return d / "out"


def test_nan_and_empty_speaker_become_null():
    ev = [TurnEvent("edge_silence", "", 0.0, 0.5, speaker_after="a"),
          TurnEvent("gap", "b", 1.0, 1.25, 0.25, "a", "b"),
          TurnEvent("ipu", "a", 0.5, 1.0)]
    rows = rows_batch("turns", ev).to_pylist()
    assert rows[0]["speaker"] is None and rows[0]["speaker_before"] is None
    assert rows[0]["fto_s"] is None and rows[0]["speaker_after"] == "a"
    assert rows[1] == {"kind": "gap", "speaker": "b", "start_s": 1.0, "end_s": 1.25, "fto_s": 0.25,
                       "speaker_before": "a", "speaker_after": "b"}
    assert rows[2]["speaker_before"] is None and rows[2]["fto_s"] is None


def test_every_float_column_has_nulls_not_nan(updates):
    """Across every table of a real session: no NaN left in any float column, and a null exactly
    where the engine holds NaN (frames f0_hz: the unvoiced frames)."""
    batches = {}
    for name, b in update_batches(updates):
        batches.setdefault(name, []).append(b)
    assert set(batches) == set(S.SESSION_TABLES)
    for name, bs in batches.items():
        tab = pa.Table.from_batches(bs)
        for c in S.table(name).columns:
            col = tab.column(c.name)
            if c.type.startswith("float"):
                vals = np.array([v for v in col.to_pylist() if v is not None], dtype=float)
                assert not np.isnan(vals).any(), f"{name}.{c.name} holds NaN"
            if not c.nullable:
                assert col.null_count == 0, f"{name}.{c.name}"
    fr = pa.Table.from_batches(batches["frames"])
    unvoiced = sum(int(np.isnan(u.frames[s]["f0_hz"]).sum()) for u in updates for s in u.frames)
    assert unvoiced > 0 and fr.column("f0_hz").null_count == unvoiced


def test_duckdb_reads_missing_as_null(scored):
    """The defects as a user met them: avg(f0_hz) was NaN and ``where fto_s is not null`` kept
    every row, since missing values were NaN and ''."""
    con = duckdb.connect()
    fr, tu = scored / "frames.parquet", scored / "turns.parquet"
    avg, n_null = con.execute(f"select avg(f0_hz), count(*) - count(f0_hz) from '{fr}'").fetchone()
    assert math.isfinite(avg) and 60 < avg < 500 and n_null > 0
    kinds = con.execute(f"select distinct kind from '{tu}' where fto_s is not null").fetchall()
    assert {k for (k,) in kinds} <= {"gap", "overlap_between"} and kinds
    n_all, n_fto = con.execute(f"select count(*), count(fto_s) from '{tu}'").fetchone()
    assert n_fto < n_all
    bad = con.execute(f"select count(*) from '{tu}' where speaker = '' or speaker_before = '' "
                      "or speaker_after = ''").fetchone()[0]
    assert bad == 0
    desc = pq.read_schema(tu).field("speaker").metadata[b"description"].decode()
    assert desc == S.TURNS.column("speaker").description and "takes the floor" in desc
    taker = con.execute(f"select count(*) from '{tu}' where kind in ('gap', 'overlap_between') "
                        "and speaker is distinct from speaker_after").fetchone()[0]
    assert taker == 0
    for t in ("series", "pacing", "synchrony"):
        for c in S.table(t).columns:
            if c.type.startswith("float"):
                (nan,) = con.execute(f"select count(*) from '{scored / (t + '.parquet')}' "
                                     f"where isnan({c.name})").fetchone()
                assert nan == 0, f"{t}.{c.name}"


def test_every_time_is_exact_on_the_millisecond_grid(scored):
    for t in S.SESSION_TABLES:
        tab = pq.read_table(scored / f"{t}.parquet")
        assert tab.num_rows, t
        for c in S.table(t).columns:
            if c.exact_ms:
                vals = [v for v in tab.column(c.name).to_pylist() if v is not None]
                off = [v for v in vals if v != round(v, 3)]
                assert not off, f"{t}.{c.name}: {len(off)} of {len(vals)} off the grid, e.g. {off[0]!r}"
    assert pq.read_table(scored / "frames.parquet").column("t_s")[0].as_py() == 0.005


def test_arrow_journal_holds_nulls(tmp_path, updates):
    from prosync.streams.journal import Recorder, read_journal

    rec = Recorder(tmp_path / "rec", ("a", "b"), 16000, one_file=True)
    for u in updates:
        rec.add(u)
    rec.flush()
    journal = next((tmp_path / "rec" / "metrics").glob("frames-*.arrows"))
    fr = read_journal(journal)
    assert fr.column("f0_hz").null_count > 0
    tu = read_journal(next((tmp_path / "rec" / "metrics").glob("turns-*.arrows")))
    assert tu.column("speaker_before").null_count > 0
    rec.close()


def test_jsonl_has_no_nan_tokens_and_nulls_where_missing(updates):
    lines = [strict_json(line) for u in updates for line in update_to_jsonl(u).splitlines()]
    frames = [r for r in lines if r["type"] == "frame"]
    turns = [r for r in lines if r["type"] == "turn"]
    assert any(r["f0_hz"] is None for r in frames) and any(r["f0_hz"] for r in frames)
    assert all(r["speaker_before"] is None for r in turns if r["kind"] == "ipu")
    assert all(r["t_s"] == round(r["t_s"], 3) for r in frames)
    assert '"t_s": 0.105,' in update_to_jsonl(updates[1])


def test_jsonl_lines_validate_against_line_schema(updates):
    jsonschema = pytest.importorskip("jsonschema")
    from prosync.engine.schema_gen import jsonl_json

    v = jsonschema.Draft202012Validator(jsonl_json())
    for u in updates:
        for line in update_to_jsonl(u).splitlines():
            v.validate(strict_json(line))


def test_shift_wav_tables_are_exact_and_null_aware(shared_data, tmp_path):
    """The CANDOR clip where 1,100 of 8,204 frame times were off the grid (40.900000000000006)."""
    from prosync.score import score

    wav = shared_data / "candor_mmvap_stereo" / "shift.wav"
    if not wav.exists():
        pytest.skip(f"{wav} is absent")
    score([wav], tmp_path / "o", report=False)
    con = duckdb.connect()
    fr = tmp_path / "o" / "frames.parquet"
    n, off = con.execute(f"select count(*), count(*) filter (where t_s <> round(t_s, 3)) "
                         f"from '{fr}'").fetchone()
    assert n > 8000 and off == 0
    t = pq.read_table(fr).column("t_s").to_pylist()
    assert all(v == round(v, 3) for v in t) and 40.905 in t
    (avg,) = con.execute(f"select avg(f0_hz) from '{fr}'").fetchone()
    assert math.isfinite(avg)
    tu = tmp_path / "o" / "turns.parquet"
    n_all, n_fto, n_floor = con.execute(
        f"select count(*), count(*) filter (where fto_s is not null), count(*) filter (where kind "
        f"in ('gap', 'overlap_between')) from '{tu}'").fetchone()
    assert n_fto == n_floor > 0 and n_fto < n_all

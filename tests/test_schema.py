"""The one schema: generated files current, engine rows equal to the tables, turn speakers."""

import dataclasses
import json

import pyarrow as pa

from prosync import Session
from prosync.engine import schema as S
from prosync.engine import schema_gen
from prosync.engine.pacing import PacingRow
from prosync.engine.speaker import FRAME_DTYPE
from prosync.engine.synchrony import SERIES_FIELDS, SyncRow
from prosync.engine.turns import TurnEvent
from tests.audio import dialogue


def test_generated_files_are_current():
    """README/PROTOCOL tables and docs/schemas/*.json equal what the schema module makes."""
    assert schema_gen.stale() == [], "run: python -m prosync.engine.schema_gen --write"


def test_engine_rows_have_the_table_columns():
    for row, table in ((TurnEvent, S.TURNS), (SyncRow, S.SYNCHRONY), (PacingRow, S.PACING)):
        assert tuple(f.name for f in dataclasses.fields(row)) == table.names, table.name
    assert FRAME_DTYPE == S.record_dtype("frames")
    assert FRAME_DTYPE.names == tuple(n for n in S.FRAMES.names if n != "speaker") + (
        "speech_raw", "webrtc", "speech_evidence", "onset_lead", "speech_loud")
    assert tuple(c.source or c.name for c in S.SERIES.columns[1:]) == SERIES_FIELDS


def test_arrow_fields_carry_description_and_unit():
    for name, t in S.TABLES.items():
        sch = S.arrow_schema(name)
        assert sch.names == list(t.names)
        assert sch.metadata[b"prosync.schema_version"] == S.SCHEMA_VERSION.encode()
        for c in t.columns:
            f = sch.field(c.name)
            assert f.metadata[b"description"].decode() == c.description
            assert f.nullable == c.nullable
            assert f.type == getattr(pa, S.TYPES[c.type][1])()


def test_metadata_carries_version_and_descriptions():
    md = S.metadata("frames", {"inputs": "x.wav"})
    assert md[b"prosync.schema_version"] == S.SCHEMA_VERSION.encode()
    assert json.loads(md[b"prosync.columns"])["f0_hz"].startswith("fundamental")
    assert md[b"prosync.inputs"] == b"x.wav"


def test_generated_markdown_states_nullability_and_the_floor_taker():
    md = schema_gen.tables_md()
    assert "| `fto_s` | float64 | s | null |" in md
    assert "the speaker who takes the floor (= speaker_after)" in md


def test_turn_speaker_is_as_documented():
    """What the data contain: gap and overlap_between name the speaker who takes the floor."""
    a, b, _ = dialogue()
    s = Session()
    ev = s.push(0, a).events + s.push(1, b).events + s.close().events
    kinds = {e.kind for e in ev}
    assert {"ipu", "gap"} <= kinds
    for e in ev:
        if e.kind in ("gap", "overlap_between"):
            assert e.speaker == e.speaker_after != e.speaker_before, e
        elif e.kind in ("pause", "overlap_within"):
            assert e.speaker == e.speaker_before == e.speaker_after, e
        elif e.kind == "ipu":
            assert e.speaker in ("a", "b") and e.speaker_before == e.speaker_after == "", e
        else:
            assert e.speaker == "", e

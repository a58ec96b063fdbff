import json

from prosync.engine.schema import DESCRIPTIONS, FRAMES, PACING, SERIES, SYNCHRONY, TURNS, metadata
from prosync.engine.speaker import FRAME_DTYPE


def test_every_column_is_described():
    for name, schema in (("frames", FRAMES), ("turns", TURNS), ("synchrony", SYNCHRONY),
                         ("pacing", PACING), ("series", SERIES)):
        assert set(schema.names) == set(DESCRIPTIONS[name]), name


def test_frame_columns_come_from_the_engine_record():
    for col in FRAMES.names:
        if col != "speaker":
            assert col in FRAME_DTYPE.names


def test_metadata_carries_version_and_descriptions():
    md = metadata("frames", {"inputs": "x.wav"})
    assert md[b"prosync.schema_version"]
    assert json.loads(md[b"prosync.columns"])["f0_hz"].startswith("fundamental")
    assert md[b"prosync.inputs"] == b"x.wav"

"""The versioned schema of every output table, shared by the offline, live and embedded doors.

Units are in the column names: ``_s`` seconds, ``_hz`` hertz, ``_db`` decibels,
``_sps`` syllables per second. Times are seconds from the session start.
"""

from __future__ import annotations

import pyarrow as pa

#: Bumped on any change of column names, types or meaning.
SCHEMA_VERSION = "1.0"

FRAMES = pa.schema([
    pa.field("speaker", pa.string(), nullable=False),
    pa.field("t_s", pa.float64(), nullable=False),       # frame centre
    pa.field("f0_hz", pa.float32()),                     # NaN when unvoiced
    pa.field("voiced", pa.bool_()),
    pa.field("periodicity", pa.float32()),               # 0 (noise) .. 1 (periodic)
    pa.field("energy_db", pa.float32()),                 # dBFS, 25 ms window
    pa.field("speech", pa.bool_()),                      # voice activity
    pa.field("rate_sps", pa.float32()),                  # syllables/s over the rolling window
    pa.field("nucleus_age", pa.int16()),                 # frames back to a nucleus confirmed here, -1
])

TURNS = pa.schema([
    pa.field("kind", pa.string(), nullable=False),       # ipu, pause, gap, overlap_between, ...
    pa.field("speaker", pa.string(), nullable=False),    # IPU owner; for the others the speaker before
    pa.field("start_s", pa.float64(), nullable=False),
    pa.field("end_s", pa.float64(), nullable=False),
    pa.field("fto_s", pa.float64()),                     # floor-transfer offset; NaN if no floor change
    pa.field("speaker_before", pa.string()),
    pa.field("speaker_after", pa.string()),
])

#: Column descriptions, written into the README and the Parquet metadata.
DESCRIPTIONS = {
    "frames": {
        "speaker": "speaker name",
        "t_s": "frame centre, seconds from session start (10 ms hop)",
        "f0_hz": "fundamental frequency in Hz, NaN when unvoiced",
        "voiced": "voicing decision (periodicity and energy relative to the speaker's level)",
        "periodicity": "1 - YIN aperiodicity at the chosen period, 0..1",
        "energy_db": "frame energy in dBFS over 25 ms",
        "speech": "voice activity (webrtcvad and energy over the noise floor, bleed removed)",
        "rate_sps": "syllable nuclei per second over the rolling window (default 3 s)",
        "nucleus_age": "a syllable nucleus confirmed at this frame lies this many frames earlier; -1 none",
    },
    "turns": {
        "kind": "ipu | pause | gap | overlap_between | overlap_within (Heldner & Edlund 2010)",
        "speaker": "the IPU's speaker; for pauses, gaps and overlaps the speaker before",
        "start_s": "start, seconds from session start",
        "end_s": "end, seconds from session start",
        "fto_s": "floor-transfer offset: +gap or -overlap duration at a floor change, else NaN",
        "speaker_before": "speaker holding the floor before (pause/gap/overlap)",
        "speaker_after": "speaker holding the floor after (pause/gap/overlap)",
    },
}


def metadata(table: str, extra: dict[str, str] | None = None) -> dict[bytes, bytes]:
    """Key/value metadata written into every file: schema version and column descriptions."""
    import json

    md = {
        b"prosync.schema_version": SCHEMA_VERSION.encode(),
        b"prosync.table": table.encode(),
        b"prosync.columns": json.dumps(DESCRIPTIONS.get(table, {})).encode(),
    }
    for k, v in (extra or {}).items():
        md[f"prosync.{k}".encode()] = str(v).encode()
    return md

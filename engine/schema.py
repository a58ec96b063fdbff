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

SYNCHRONY = pa.schema([
    pa.field("t_s", pa.float64(), nullable=False),       # when the window's row became final
    pa.field("window_start_s", pa.float64(), nullable=False),
    pa.field("feature", pa.string(), nullable=False),    # f0, energy, rate, vad
    pa.field("r_lag0", pa.float64()),
    pa.field("r_peak", pa.float64()),
    pa.field("lag_s", pa.float64()),                     # positive: the second speaker follows
    pa.field("z", pa.float64()),                         # peak |r| vs segment-shuffled surrogates
    pa.field("n_valid", pa.int32()),
])

SERIES = pa.schema([
    pa.field("speaker", pa.string(), nullable=False),
    pa.field("t_s", pa.float64(), nullable=False),       # end of the 100 ms bin
    pa.field("f0_st", pa.float64()),                     # semitones re the speaker's median
    pa.field("energy_db", pa.float64()),                 # dB re the speaker's speech level
    pa.field("rate_sps", pa.float64()),
    pa.field("vad", pa.float64()),                       # fraction of speech frames in the bin
])

PACING = pa.schema([
    pa.field("t_s", pa.float64(), nullable=False),
    pa.field("user_speaking", pa.bool_()),
    pa.field("rate_ratio", pa.float64()),
    pa.field("gap_mismatch_s", pa.float64()),
    pa.field("loudness_mismatch_db", pa.float64()),
    pa.field("f0_level_mismatch_st", pa.float64()),
    pa.field("f0_range_mismatch_st", pa.float64()),
    pa.field("reply_delay_ms", pa.float64()),
    pa.field("target_rate_sps", pa.float64()),
    pa.field("loudness_offset_db", pa.float64()),
    pa.field("f0_offset_st", pa.float64()),
    pa.field("hesitation", pa.float64()),
    pa.field("conf_reply_delay", pa.float64()),
    pa.field("conf_rate", pa.float64()),
    pa.field("conf_loudness", pa.float64()),
    pa.field("conf_f0", pa.float64()),
    pa.field("warming_up", pa.bool_()),
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
        "kind": "ipu | pause | gap | overlap_between | overlap_within (Heldner & Edlund 2010) | "
                "edge_silence | silence_ambiguous | overlap_other | rttm_overlap (input split by "
                "an RTTM: both speakers' turns overlap)",
        "speaker": "the IPU's speaker; for pauses, gaps and overlaps the speaker before",
        "start_s": "start, seconds from session start",
        "end_s": "end, seconds from session start",
        "fto_s": "floor-transfer offset: +gap or -overlap duration at a floor change, else NaN",
        "speaker_before": "speaker holding the floor before (pause/gap/overlap)",
        "speaker_after": "speaker holding the floor after (pause/gap/overlap)",
    },
    "synchrony": {
        "t_s": "time the row became final: window start + window + lag reach",
        "window_start_s": "start of the window's lag-0 span (rMEA alignment)",
        "feature": "f0 (semitones re speaker median), energy (dB re speech level), rate, vad",
        "r_lag0": "Pearson r at lag 0",
        "r_peak": "signed r at the Boker peak of the smoothed |r| lag profile",
        "lag_s": "Boker peak nearest lag 0 among peaks >= half the window's max |r|; positive: the "
                 "second speaker follows the first",
        "z": "(peak |r| over lags - mean of the feature's pool of 19 segment-shuffled surrogate "
             "peaks) / their sd",
        "n_valid": "complete pairs in the window at lag 0",
    },
    "series": {
        "speaker": "speaker name",
        "t_s": "end of the 100 ms bin",
        "f0_st": "mean F0 of voiced frames, semitones re the speaker's running median; "
                 "held through up to hold_s of silence, else NaN",
        "energy_db": "mean energy of speech frames, dB re the speaker's speech level (held)",
        "rate_sps": "mean rolling speech rate over speech frames (held)",
        "vad": "fraction of the bin's frames that are speech",
    },
    "pacing": {
        "t_s": "end of the 100 ms bin",
        "user_speaking": "the first speaker (user) speaks in this bin",
        "rate_ratio": "second speaker's recent rate / first speaker's",
        "gap_mismatch_s": "median FTO of the second speaker minus the first's",
        "loudness_mismatch_db": "speech level of the second speaker minus the first's",
        "f0_level_mismatch_st": "median F0 of the second minus the first, semitones",
        "f0_range_mismatch_st": "F0 range (5-95 %) of the second minus the first, semitones",
        "reply_delay_ms": "advice: wait this long after the user stops",
        "target_rate_sps": "advice: speak at this rate (user's rate, 10 % dead band)",
        "loudness_offset_db": "advice: change the agent's level by this much (positive: louder)",
        "f0_offset_st": "advice: shift the agent's pitch from its own baseline by this much",
        "hesitation": "0..1: long pauses, falling energy and rate of the user",
        "conf_reply_delay": "0..1 confidence of reply_delay_ms",
        "conf_rate": "0..1 confidence of target_rate_sps",
        "conf_loudness": "0..1 confidence of loudness_offset_db",
        "conf_f0": "0..1 confidence of f0_offset_st",
        "warming_up": "a baseline behind this row has not settled yet",
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

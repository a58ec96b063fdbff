"""The one schema of prosync's outputs: every table and every JSON message, defined once.

Each column has a name, a type, a unit, its nullability and a description. Everything else is
derived from these definitions and never written by hand:

* the engine's NumPy record dtypes (:func:`record_dtype`; ``FRAME_DTYPE`` of the per-speaker
  core is ``record_dtype("frames")``);
* the Arrow schemas with a description in each field's metadata (:func:`arrow_schema`, used by
  every sink through :mod:`prosync.streams.arrow`);
* the JSON Schemas in ``docs/schemas/`` and the tables in the README and ``docs/PROTOCOL.md``
  (:mod:`prosync.engine.schema_gen`: ``python -m prosync.engine.schema_gen --write``; a test fails when
  a generated file is stale).

Missing values. Inside the engine (the NumPy records and dataclass rows of
:class:`~prosync.Update`) a missing float is NaN and a missing speaker is ``''``. On the way
out they are **Arrow nulls** (Parquet, the Arrow IPC journal) and **JSON ``null``** (JSONL,
WebSocket): a column marked nullable holds null exactly where the engine holds NaN or ``''``.

Times. Every column marked ``exact_ms`` lies on the millisecond grid: its value is the double
nearest to a whole number of milliseconds (``t == round(t, 3)``), so joins on time work and JSON
prints ``40.9``, not ``40.900000000000006``.

Units are in the names: ``_s`` seconds, ``_ms`` milliseconds, ``_hz`` hertz, ``_db`` decibels,
``_st`` semitones, ``_sps`` syllables per second.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

#: Version of the tables' columns and of the rows in JSON messages. The major number changes
#: when a column is removed, renamed or changes type or meaning; the minor when one is added.
#: 2.0: missing values are nulls (were NaN and ``''``), times exact on the 1 ms grid.
#: 2.1: the ``end_of_turn`` and ``turn_end`` tables (the user's end-of-turn probability).
#: 2.2: the ``session_sync`` rows of the JSON stream (the session-level test, live).
SCHEMA_VERSION = "2.2"
#: Version of the WebSocket protocol's framing (``docs/PROTOCOL.md``); rows follow SCHEMA_VERSION.
#: 1.2: ``session_sync`` rows in ``metrics``.
PROTOCOL_VERSION = "1.2"

#: Column types: NumPy dtype, Arrow type name, JSON Schema type.
TYPES = {
    "string": (object, "string", "string"),
    "float64": ("f8", "float64", "number"),
    "float32": ("f4", "float32", "number"),
    "int16": ("i2", "int16", "integer"),
    "int32": ("i4", "int32", "integer"),
    "int64": ("i8", "int64", "integer"),
    "bool": ("?", "bool_", "boolean"),
}


@dataclass(frozen=True)
class Column:
    """One column of a table (and the same field of the JSON rows)."""

    name: str
    type: str
    unit: str
    description: str
    nullable: bool = True
    #: A time on the 1 ms grid (equal to its 3-decimal rounding).
    exact_ms: bool = False
    #: NumPy type of the field in the engine's record, when it differs from ``type``.
    record: str | None = None
    #: Name of the value in the engine's output (record field or dict key), when it differs.
    source: str | None = None
    #: The values a string column may take (documentation and JSON Schema), when closed.
    enum: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Table:
    """One output table: ``<name>.parquet`` and the ``<name>`` rows of JSON messages."""

    name: str
    rows: str
    columns: tuple[Column, ...]
    #: Fields of the engine's record that are not written out.
    internal: tuple[Column, ...] = ()
    #: Written as ``<name>.parquet``; False: rows of the JSON stream only (JSONL, WebSocket).
    file: bool = True

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name, type_, unit, description, **kw) -> Column:
    return Column(name, type_, unit, description, **kw)


SPEAKER = _c("speaker", "string", "", "speaker name", nullable=False)
TURN_KINDS = ("ipu", "pause", "gap", "overlap_between", "overlap_within", "edge_silence",
              "silence_ambiguous", "overlap_other", "rttm_overlap")
FEATURES = ("f0", "energy", "rate", "vad")

FRAMES = Table("frames", "one row per speaker per 10 ms frame", (
    SPEAKER,
    _c("t_s", "float64", "s", "frame centre, seconds from session start: (k + 0.5) / 100 for "
       "frame k", nullable=False, exact_ms=True),
    _c("f0_hz", "float32", "Hz", "fundamental frequency; null when unvoiced"),
    _c("voiced", "bool", "", "voicing decision (periodicity and energy relative to the speaker's "
       "level)", nullable=False),
    _c("periodicity", "float32", "0..1", "1 - YIN aperiodicity at the chosen period"),
    _c("energy_db", "float32", "dBFS", "frame energy over 25 ms (full-scale sine = -3 dB)"),
    _c("speech", "bool", "", "voice activity: onset/offset hysteresis on webrtcvad, the pitch "
       "tracker's voicing and energy against a percentile noise floor (in five bands from 150 Hz, "
       "each against its own floor), with hangover; a channel's "
       "speech is dropped where the two microphones carry one voice (cross-talk, by correlation)",
       nullable=False),
    _c("rate_sps", "float32", "syl/s", "syllable nuclei per second of speech over the speaker's "
       "last window_s (3 s) of speech frames, pauses skipped; null before 1 s of speech"),
    _c("nucleus_age", "int16", "frames", "a syllable nucleus confirmed at this frame lies this "
       "many frames earlier; -1 none", nullable=False, record="int64"),
), internal=(
    _c("speech_raw", "bool", "", "voice activity before hangover (drives the turn tracker)"),
    _c("webrtc", "bool", "", "webrtcvad's decision alone"),
    _c("speech_evidence", "bool", "", "a speech frame that shows a voice, not the background "
       "(the turn tracker keeps a stretch of speech only with enough of them)"),
    _c("onset_lead", "int16", "frames", "at a speech onset: the non-speech frames just before it "
       "already over the background (the turn tracker dates the IPU start back by them)"),
    _c("speech_loud", "bool", "", "a speech frame within turns.breath_rel_db of the speaker's "
       "speech level (a voiceless run before a word that never gets this loud is a breath)"),
))

TURNS = Table("turns", "one row per turn-taking event (Heldner & Edlund 2010); in the files "
              "in time order (start_s, end_s), streamed (`Update.events`, JSONL, WebSocket) in "
              "the order the events become final", (
    _c("kind", "string", "", "ipu; pause (the same speaker alone before and after a joint "
       "silence); gap (floor change through silence, of zero length when one speaker stops in "
       "the frame the other starts); overlap_between (floor change through "
       "overlap); overlap_within (the other speaker's IPU lies inside this speaker's); "
       "edge_silence (silence touching the start or end); silence_ambiguous and overlap_other "
       "(both speakers start or stop at the same 10 ms frame); rttm_overlap (input split by an "
       "RTTM: both speakers' turns overlap)", nullable=False, enum=TURN_KINDS),
    _c("speaker", "string", "", "ipu: the IPU's speaker; gap and overlap_between: the speaker who "
       "takes the floor (= speaker_after); pause and overlap_within: the speaker holding the "
       "floor; rttm_overlap: both names joined by '+'; null for edge_silence, "
       "silence_ambiguous and overlap_other"),
    _c("start_s", "float64", "s", "start, seconds from session start", nullable=False,
       exact_ms=True),
    _c("end_s", "float64", "s", "end, seconds from session start", nullable=False, exact_ms=True),
    _c("fto_s", "float64", "s", "floor-transfer offset: +duration of a gap, -duration of an "
       "overlap_between; null for every other kind", exact_ms=True),
    _c("speaker_before", "string", "", "the speaker alone just before the silence or overlap; "
       "null for ipu and rttm_overlap, and where the recording starts or both speak"),
    _c("speaker_after", "string", "", "the speaker alone just after the silence or overlap; "
       "null for ipu and rttm_overlap, and where the recording ends or both speak"),
))

SYNCHRONY = Table("synchrony", "one row per feature per completed window", (
    _c("t_s", "float64", "s", "time the row became final: window start + window + lag reach",
       nullable=False, exact_ms=True),
    _c("window_start_s", "float64", "s", "start of the window's lag-0 span (rMEA alignment)",
       nullable=False, exact_ms=True),
    _c("feature", "string", "", "f0 (semitones re the speaker's median), energy (dB re the "
       "speech level), rate (syl/s), vad (speech fraction)", nullable=False, enum=FEATURES),
    _c("r_lag0", "float64", "", "Pearson r at lag 0; null when the window has too few pairs"),
    _c("r_peak", "float64", "", "signed r at the Boker peak of the smoothed |r| lag profile; "
       "null without a peak"),
    _c("lag_s", "float64", "s", "lag of that peak, nearest lag 0 among peaks >= half the "
       "window's max |r|; positive: the second speaker follows the first; null without a peak",
       exact_ms=True),
    _c("z", "float64", "", "normal quantile of p (z > 1.96 is p < 0.025); null when p is"),
    _c("n_valid", "int32", "", "complete pairs in the window at lag 0", nullable=False),
    _c("p", "float64", "", "rank p-value of the window's peak |r| over lags among the "
       "feature's last 99 surrogates that keep both voices' timing (f0, energy, rate: one "
       "voice's utterances rotated over their slots; vad, and until each voice has 13 "
       "utterances: one voice's window against the other voice earlier in the session); one "
       "window, not a session-level test; null until about 32 s of history (live; 107 s research)"),
))

SERIES = Table("series", "one row per speaker per 100 ms bin: the speaker-relative series "
               "the synchrony uses", (
    SPEAKER,
    _c("t_s", "float64", "s", "end of the 100 ms bin", nullable=False, exact_ms=True),
    _c("f0_st", "float64", "st", "mean F0 of the voiced frames, semitones re the speaker's "
       "running median; held through up to hold_s of silence, else null", source="f0"),
    _c("energy_db", "float64", "dB", "mean energy of the speech frames re the speaker's speech "
       "level (held)", source="energy"),
    _c("rate_sps", "float64", "syl/s", "mean running speech rate over the speech frames (held)",
       source="rate"),
    _c("vad", "float64", "0..1", "fraction of the bin's frames that are speech"),
))

PACING = Table("pacing", "one row per 100 ms bin: mismatch (agent minus user) and advice for "
               "the agent (speaker 1 = user, speaker 2 = agent)", (
    _c("t_s", "float64", "s", "end of the 100 ms bin", nullable=False, exact_ms=True),
    _c("user_speaking", "bool", "", "the user speaks in this bin", nullable=False),
    _c("rate_ratio", "float64", "", "the agent's recent speech rate / the user's"),
    _c("gap_mismatch_s", "float64", "s", "the agent's median floor-transfer offset minus the "
       "user's", exact_ms=True),
    _c("loudness_mismatch_db", "float64", "dB", "the agent's speech level minus the user's"),
    _c("f0_level_mismatch_st", "float64", "st", "the agent's median F0 minus the user's"),
    _c("f0_range_mismatch_st", "float64", "st", "the agent's F0 range (5-95 %) minus the user's"),
    _c("reply_delay_ms", "float64", "ms", "advice: wait this long after the user stops (the "
       "user's own median gap, 250 ms until it is known, bounded to 150-1500 ms)"),
    _c("target_rate_sps", "float64", "syl/s", "advice: speak at this rate (the user's rate "
       "with a 10 % dead band: inside it the agent keeps its own)"),
    _c("loudness_offset_db", "float64", "dB", "advice: change the agent's level by this much "
       "(positive: louder; dead band 2 dB, at most 6 dB)"),
    _c("f0_offset_st", "float64", "st", "advice: the user's current pitch excursion from their "
       "median; shift the agent's pitch by this much from its own baseline"),
    _c("hesitation", "float64", "0..1", "long pauses, falling energy and rate of the user "
       "(reported; it does not move reply_delay_ms)"),
    _c("conf_reply_delay", "float64", "0..1", "confidence of reply_delay_ms"),
    _c("conf_rate", "float64", "0..1", "confidence of target_rate_sps"),
    _c("conf_loudness", "float64", "0..1", "confidence of loudness_offset_db"),
    _c("conf_f0", "float64", "0..1", "confidence of f0_offset_st"),
    _c("warming_up", "bool", "", "a baseline behind this row has not settled yet",
       nullable=False),
))

END_OF_TURN = Table("end_of_turn", "one row per 10 ms frame of the user's silence after speech "
                    "(up to end_of_turn.horizon_s): the causal end-of-turn probability", (
    _c("t_s", "float64", "s", "frame centre", nullable=False, exact_ms=True),
    _c("silence_s", "float32", "s", "the user's silence up to the end of this frame",
       nullable=False),
    _c("turn_end_prob", "float64", "0..1", "probability that the user's turn has ended (rather "
       "than paused): the silence so far against the user's own pauses, with the prior odds "
       "from their own hand-overs and turn-yielding cues at the end of speech "
       "(prosync.engine.endofturn)", nullable=False),
))

_CUES = {
    "cue_f0_move": "final F0 fall or rise over the last 300 ms of voicing, in quarters of the "
                   "speaker's F0 range (0..1)",
    "cue_f0_low": "final F0 below the speaker's median, in halves of their range (0..1)",
    "cue_energy": "energy of the last 200 ms of speech below the IPU's preceding 800 ms, "
                  "/12 dB (0..1)",
    "cue_voicing": "unvoiced share of the last 200 ms of speech (0..1)",
    "cue_lengthening": "last voiced stretch in syllables of the speaker's rate, minus 1 (0..1)",
    "cue_ipu": "IPU length, log-scaled 0.5 s (0) to 4 s (1)",
    "cue_other": "1 - the other speaker's speech share in the last second of the user's IPU",
}
TURN_END = Table("turn_end", "one row per turn_end event: turn_end_prob reached "
                 "end_of_turn.threshold in the user's silence", (
    _c("t_s", "float64", "s", "centre of the frame where the probability crossed",
       nullable=False, exact_ms=True),
    _c("speech_end_s", "float64", "s", "end of the user's last speech frame", nullable=False,
       exact_ms=True),
    _c("latency_s", "float64", "s", "silence from the end of speech to the crossing",
       nullable=False, exact_ms=True),
    _c("turn_end_prob", "float64", "0..1", "the probability at the crossing", nullable=False),
    _c("prior", "float64", "0..1", "the probability at the end of speech (before any silence): "
       "the user's hand-over odds and the weighted cues", nullable=False),
    _c("ipu_s", "float64", "s", "length of the IPU that ended", nullable=False, exact_ms=True),
    *(_c(k, "float64", "0..1", v, nullable=False) for k, v in _CUES.items()),
))

SESSION_SYNC = Table("session_sync", "one row per feature each time the session-level "
                     "synchrony test finishes (live: every 15 s of session time, computed off the "
                     "live loop; the summary has the final test)", (
    _c("t_s", "float64", "s", "the test covers the session from 0 to this time", nullable=False,
       exact_ms=True),
    _c("feature", "string", "", "f0, energy, rate or vad (as in synchrony)", nullable=False,
       enum=FEATURES),
    _c("r", "float64", "", "the whole session's lagged correlation at lag_s (signed); null "
       "without a test (note says why)"),
    _c("lag_s", "float64", "s", "the lag of the largest |r| within the preset's reach; "
       "positive: the second speaker follows", exact_ms=True),
    _c("p", "float64", "", "session-level p-value: rank of |r| among surrogates of the second "
       "speaker that keep both speakers' timing (prosync.engine.session_sync); null without a "
       "test"),
    _c("r_crit", "float64", "", "the |r| a session's |r| must exceed to be significant (p <= "
       "0.05): about the surrogates' 95th percentile for f0 and energy; for rate and vad the "
       "session's |r| plus the surrogates' margin over the real pairing split at their "
       "junctions (prosync.engine.session_sync), so it moves with r"),
    _c("units", "int32", "", "complete pairs behind r", nullable=False),
    _c("n_surrogates", "int32", "", "surrogates behind p", nullable=False),
    _c("note", "string", "", "why there is no p-value, or that a non-significant session is "
       "too short to detect a coupling of r = 0.3 with 80 % power; null otherwise"),
), file=False)

#: The tables of one session (``prosync score``, ``--record``, the WebSocket ``metrics`` rows).
SESSION_TABLES = {t.name: t for t in (FRAMES, TURNS, SYNCHRONY, PACING, SERIES, END_OF_TURN,
                                      TURN_END)}
#: Rows of the JSON stream only (JSONL, WebSocket ``metrics``), no file.
STREAM_TABLES = {SESSION_SYNC.name: SESSION_SYNC}

SESSION = _c("session", "string", "", "session name (manifest or file stem)", nullable=False)
FAILURES = Table("failures", "corpus: one row per session that could not be scored", (
    SESSION,
    _c("file", "string", "", "the file at fault (or every input, ';'-joined)", nullable=False),
    _c("reason", "string", "", "what is wrong and how to fix it", nullable=False),
))
SESSIONS = Table("sessions", "corpus: one row per scored session", (
    SESSION,
    _c("duration_s", "float64", "s", "duration of the session's audio", nullable=False),
))

#: Every table prosync writes.
TABLES = {**SESSION_TABLES, **STREAM_TABLES, FAILURES.name: FAILURES, SESSIONS.name: SESSIONS}


def table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}: one of {', '.join(TABLES)}") from None


@functools.cache
def record_dtype(name: str):
    """The engine's NumPy record of a table: its columns (without ``speaker``) and the internal
    fields. Missing values are NaN here (see the module docstring)."""
    import numpy as np

    t = table(name)
    return np.dtype([(c.source or c.name, c.record or TYPES[c.type][0])
                     for c in t.columns + t.internal if c is not SPEAKER])


@functools.cache
def arrow_schema(name: str):
    """The Arrow schema of a table; each field's metadata holds its ``description`` and
    ``unit``, the schema's metadata the schema version and the table name."""
    import pyarrow as pa

    t = table(name)
    fields = [pa.field(c.name, getattr(pa, TYPES[c.type][1])(), nullable=c.nullable,
                       metadata={"description": c.description, "unit": c.unit})
              for c in t.columns]
    return pa.schema(fields, metadata={"prosync.schema_version": SCHEMA_VERSION,
                                       "prosync.table": t.name})


def metadata(name: str, extra: dict[str, str] | None = None) -> dict[bytes, bytes]:
    """Key/value metadata of a file: schema version, table, column descriptions (also in each
    field's metadata) and ``extra`` (``prosync.<key>``)."""
    import json

    md = {
        b"prosync.schema_version": SCHEMA_VERSION.encode(),
        b"prosync.table": name.encode(),
        b"prosync.columns": json.dumps({c.name: c.description for c in table(name).columns}).encode(),
    }
    for k, v in (extra or {}).items():
        md[f"prosync.{k}".encode()] = str(v).encode()
    return md


#: Column descriptions per table (``{table: {column: description}}``).
DESCRIPTIONS = {t.name: {c.name: c.description for c in t.columns} for t in TABLES.values()}


# --------------------------------------------------------------------------- JSON messages
@dataclass(frozen=True)
class Field:
    """One field of a JSON message: its JSON Schema fragment and meaning."""

    name: str
    json: dict
    description: str
    required: bool = True
    default: object = None


@dataclass(frozen=True)
class Message:
    """One JSON message (WebSocket text message or JSONL line), ``{"type": name, ...fields}``."""

    name: str
    title: str
    fields: tuple[Field, ...]
    #: Other fields are allowed (``summary`` carries the whole of ``summary.json``).
    open: bool = False


def _num(nullable=False) -> dict:
    return {"type": ["number", "null"]} if nullable else {"type": "number"}


_STR, _INT, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_NSTR = {"type": ["string", "null"]}

#: ``error`` codes and their causes.
ERROR_CODES = {
    "bad_json": "a text message that is not JSON",
    "bad_message": "JSON that is not an object with a string `type`",
    "unknown_type": "a `type` other than `start` or `stop`",
    "not_started": "audio or `stop` before `start`",
    "already_started": "a second `start` on the connection",
    "bad_start": "an invalid `start` (the session is not started; send a corrected one)",
    "bad_speaker": "byte 0 of an audio message is not 0 or 1",
    "odd_bytes": "an odd number of PCM bytes (the whole message is ignored)",
    "bad_audio": "an empty binary message",
    "too_big": "a message over `--max-message-bytes` (default 262144)",
    "internal": "a server bug; the server closes this connection and keeps serving the others",
}

_ROWS = {"frames": "frame", "turns": "turn", "synchrony": "sync", "pacing": "pacing",
         "end_of_turn": "end_of_turn", "turn_end": "turn_end", "session_sync": "session_sync"}

MESSAGES = {m.name: m for m in (
    Message("start", "start (client to server)", (
        Field("sample_rate", {"type": "integer", "minimum": 8000, "maximum": 384000},
              "integer Hz, 8000 to 384000, of both speakers' PCM (resampled to 16 kHz inside)"),
        Field("speakers", {"type": "array", "items": {"type": "string", "minLength": 1},
                           "minItems": 2, "maxItems": 2},
              "two names, user first; used in the rows", False, ["user", "agent"]),
        Field("protocol_version", {"type": "string", "pattern": "^1\\.[0-9]+$"},
              "the version the client speaks", False, PROTOCOL_VERSION),
        Field("metrics_interval_ms", {"type": "number", "minimum": 0, "maximum": 60000},
              "a `metrics` message every this much **stream time**; `0` sends every update as "
              "soon as it is final", False, 100),
        Field("frames", _BOOL, "include the per-frame rows (100 per second per speaker); "
              "`false` sends only turns, synchrony and pacing", False, True),
        Field("pad_agent", _BOOL, "the server pads the agent's stream with silence up to the "
              "user's time: send agent audio only while the agent speaks, when it is played",
              False, False),
        Field("two_mics", _BOOL, "speech of one channel that is only the other's voice "
              "(cross-talk, told by the channels' correlation) is dropped", False, True),
        Field("config", {"type": "object", "propertyNames": {
            "enum": ["pitch", "vad", "rate", "turns", "sync", "pacing", "end_of_turn"]},
            "additionalProperties": {"type": "object"}},
              "engine settings by section, e.g. `{\"turns\": {\"ipu_bridge_s\": 0.2}}` "
              "(sections and fields of `prosync.Config`)", False, "defaults"),
        Field("preset", {"type": "string", "enum": ["live", "research"]},
              "named synchrony settings (the README's preset table), applied over `config` (a "
              "`config.sync` too is refused); when absent, the server's (`prosync serve --preset`)",
              False, "defaults"),
    )),
    Message("stop", "stop (client to server)", ()),
    Message("ready", "ready (server to client)", (
        Field("protocol_version", _STR, "the server's protocol version"),
        Field("schema_version", _STR, "version of the rows (the output schema)"),
        Field("sample_rate", _INT, "Hz, as started"),
        Field("speakers", {"type": "array", "items": _STR}, "the two names, user first"),
        Field("lookahead_s", _num(), "audio needed after a frame's centre before its values "
              "are final"),
        Field("hop_s", _num(), "frame hop (0.01)"),
        Field("metrics_interval_ms", _num(), "as started"),
        Field("max_message_bytes", _INT, "larger messages get an `error`"),
    )),
    Message("metrics", "metrics (server to client)", (
        Field("seq", {"type": "integer", "minimum": 1}, "1, 2, 3, ... counting every metrics "
              "message made, dropped ones included"),
        Field("t_s", _num(), "end of the last frame in the message (stream time, exact ms)"),
        Field("received_s", {"type": "array", "items": _num(), "minItems": 2, "maxItems": 2},
              "audio received per speaker when the message was made"),
        Field("compute_ms", _num(), "processing time spent on this session since the last "
              "message"),
        Field("schema_version", _STR, "version of the rows"),
        *(Field(k, {"type": "array", "items": {"$ref": f"#/$defs/{v}"}},
                f"rows of `{k}.parquet` that became final since the last message" if table(k).file
                else f"`{k}` rows (README, \"Output schema\"): the session-level synchrony test, "
                "one row per feature, when one finished since the last message (every 15 s of "
                "stream time)")
          for k, v in _ROWS.items()),
        Field("advice", {"oneOf": [{"$ref": "#/$defs/pacing"}, {"type": "null"}]},
              "the latest pacing row (also when none is new); null during the first 100 ms"),
        Field("dropped", {"type": "integer", "minimum": 0}, "metrics messages dropped since the "
              "previous message sent"),
        Field("final", {"const": True}, "on the last metrics message, after `stop`", False),
    )),
    Message("error", "error (server to client)", (
        Field("code", {"enum": list(ERROR_CODES)}, "what went wrong (table below)"),
        Field("message", _STR, "what is wrong and how to fix it"),
    )),
    Message("summary", "summary (server to client, last)", (
        Field("protocol_version", _STR, "the server's protocol version"),
        Field("schema_version", _STR, "version of the output schema"),
        Field("dropped_total", {"type": "integer", "minimum": 0},
              "metrics messages dropped in the whole session"),
        Field("duration_s", _num(True), "session duration"),
        Field("lookahead_s", _num(True), "as in `ready`", False),
        Field("speakers", {"type": "object", "additionalProperties": {
            "type": "object", "properties": {
                **{k: _INT for k in ("frames", "syllables", "ipus")},
                **{k: _num(True) for k in ("voiced_fraction", "speech_fraction", "speech_s",
                                           "f0_median_hz", "f0_range_st_5_95",
                                           "speech_rate_sps", "articulation_rate_sps")}},
            "required": ["frames", "voiced_fraction", "speech_fraction", "speech_s",
                         "f0_median_hz", "f0_range_st_5_95", "syllables", "speech_rate_sps",
                         "articulation_rate_sps", "ipus"], "additionalProperties": False}},
              "per speaker: frames, voiced and speech fractions, F0 median and range, "
              "syllables, speech and articulation rates, IPUs"),
        Field("turn_events", {"type": "object", "additionalProperties": _INT},
              "count of turn events by kind"),
        Field("fto_s", {"type": "object", "properties": {
            "count": _INT, "median": _num(True), "values": {"type": "array", "items": _num()}},
            "required": ["count", "median", "values"], "additionalProperties": False},
              "floor-transfer offsets"),
        Field("synchrony", {"type": ["object", "null"]}, "per feature: window means"),
        Field("entrainment", {"type": ["object", "null"]}, "TAMA and Levitan & Hirschberg"),
        Field("pacing_last", {"oneOf": [{"$ref": "metrics.json#/$defs/pacing"},
                                        {"type": "null"}]}, "the last pacing row"),
        Field("warnings", {"type": "array", "items": _STR}, "input warnings"),
    ), open=True),
)}

#: JSONL (``prosync live --jsonl``): one row per line, ``{"type": <line type>, ...columns}``.
JSONL_TYPES = {"frame": "frames", "turn": "turns", "synchrony": "synchrony", "pacing": "pacing",
               "end_of_turn": "end_of_turn", "turn_end": "turn_end", "session_sync": "session_sync"}

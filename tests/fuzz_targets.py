"""Input generators and oracles shared by the fuzz tests (hypothesis, short) and ``bench/reliability/fuzz.py``
(the long run).

A generator takes a *source* of choices, either :class:`HypSource` (hypothesis ``draw``: inputs
shrink when a test fails) or :class:`RngSource` (numpy: fast, for hundreds of thousands of
inputs). An oracle runs one input through the code under test and returns ``"ok"`` (parsed) or
``"error"`` (a :class:`~prosync.engine.errors.ProsyncError` with a one-line message); anything
else (another exception, a message of several lines, a result breaking an invariant) is raised:
that is a crash.

Targets:

* ``audio``: bytes written to a temp file named ``.wav``/``.flac``/``.ogg``/``.mp3``: valid files
  of every format, rate and channel count, then truncated, bit-flipped, spliced, given extreme
  header fields or the wrong extension; random bytes behind a format's magic number. Read with
  ``plan_sources`` and ``read_blocks`` to the end.
* ``rttm``: RTTM text with valid, malformed and hostile lines (non-numbers, NaN/Inf, huge values,
  unicode digits and separators, BOM, CR line ends, NUL, invalid UTF-8), through ``read_rttm``,
  ``select``, ``intervals``, ``overlaps`` and ``gate``.
* ``manifest``: corpus manifest CSVs (missing or extra columns and fields, quoting, BOM, other
  delimiters, path-like and duplicate session names, invalid UTF-8, NUL) through ``discover``.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np

from prosync.engine.errors import ProsyncError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


# --------------------------------------------------------------------------- sources of choices
class RngSource:
    """Choices from a numpy Generator (the long run)."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))

    def choice(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def bytes(self, max_size: int) -> bytes:
        return self.rng.bytes(int(self.rng.integers(0, max_size + 1)))

    def float(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def bool(self, p: float = 0.5) -> bool:
        return bool(self.rng.random() < p)


class HypSource:
    """Choices from hypothesis (``st.data()``'s ``draw``): failing inputs shrink."""

    def __init__(self, draw):
        from hypothesis import strategies as st

        self.draw = draw
        self.st = st

    def int(self, lo, hi):
        return self.draw(self.st.integers(lo, hi))

    def choice(self, seq):
        return self.draw(self.st.sampled_from(list(seq)))

    def bytes(self, max_size):
        return self.draw(self.st.binary(max_size=max_size))

    def float(self, lo, hi):
        return self.draw(self.st.floats(lo, hi, allow_nan=False))

    def bool(self, p=0.5):
        return self.draw(self.st.booleans())


#: The message of the last clear error (for ``bench/reliability/fuzz.py``'s outcome classes) and the number
#: of messages in the last WebSocket case.
LAST_ERROR = [""]
LAST_COUNT = [1]


def check_message(exc: ProsyncError) -> None:
    """A clear error: one non-empty line."""
    msg = str(exc)
    LAST_ERROR[0] = msg
    if not msg.strip() or "\n" in msg or "\r" in msg:
        raise AssertionError(f"unclear error message: {msg!r}")


# --------------------------------------------------------------------------- audio files
#: (format, subtype) of the valid files that mutations start from.
FORMATS = [("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "FLOAT"), ("WAV", "PCM_U8"), ("WAV", "ULAW"),
           ("WAVEX", "PCM_16"), ("FLAC", "PCM_16"), ("FLAC", "PCM_24"), ("OGG", "VORBIS"),
           ("OGG", "OPUS"), ("MP3", "MPEG_LAYER_III")]
SUFFIX = {"WAV": ".wav", "WAVEX": ".wav", "FLAC": ".flac", "OGG": ".ogg", "MP3": ".mp3"}
MAGIC = [b"RIFF", b"RIFF\xff\xff\xff\xffWAVEfmt ", b"RIFX", b"RF64", b"fLaC", b"OggS", b"ID3\x03\x00",
         b"\xff\xfb", b"\xff\xf3", b"FORM", b".snd", b""]
INTERESTING = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00\x00\x00", b"\xff\xff\xff\xff",
               b"\x7f\xff\xff\xff", b"\x00\x00\x00\x80", b"\x01\x00", b"\xff\xff"]

_POOL: list[tuple[str, bytes]] | None = None


def audio_pool() -> list[tuple[str, bytes]]:
    """Valid small files (suffix, bytes) of every format, 1-4 channels, 8-96 kHz (generated once,
    seeded)."""
    global _POOL
    if _POOL is None:
        import soundfile as sf

        rng = np.random.default_rng(1234)
        pool = []
        for fmt, sub in FORMATS:
            for ch, sr, n in ((1, 16000, 4000), (2, 8000, 2000), (2, 48000, 9000), (3, 22050, 1500),
                              (1, 44100, 0), (2, 16000, 1)):
                if fmt == "MP3" and sr not in (8000, 16000, 22050, 44100, 48000):
                    continue
                if sub == "OPUS":
                    sr = 48000 if sr > 24000 else (16000 if sr > 12000 else 8000)
                t = np.arange(n) / sr
                x = (0.4 * np.sin(2 * np.pi * 180 * t)[:, None] * np.ones(ch)
                     + 0.01 * rng.standard_normal((n, ch))).astype(np.float32)
                buf = io.BytesIO()
                try:
                    sf.write(buf, x, sr, format=fmt, subtype=sub)
                except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
                    continue
                pool.append((SUFFIX[fmt], buf.getvalue()))
        _POOL = pool
    return _POOL


def _mutate(src, data: bytes) -> bytes:
    b = bytearray(data)
    kind = src.choice(["truncate", "truncate_head", "flip", "overwrite", "insert", "delete",
                       "duplicate", "header_int", "append"])
    n = len(b)
    if kind == "truncate":
        return bytes(b[:src.int(0, n)])
    if kind == "truncate_head":
        return bytes(b[:src.int(0, min(n, 80))])
    if kind == "flip" and n:
        for _ in range(src.int(1, 8)):
            i = src.int(0, n - 1)
            b[i] ^= 1 << src.int(0, 7)
        return bytes(b)
    if kind == "overwrite" and n:
        v = src.choice(INTERESTING)
        i = src.int(0, n - 1)
        b[i:i + len(v)] = v
        return bytes(b[:max(n, i + len(v))])
    if kind == "insert":
        i = src.int(0, n)
        return bytes(b[:i]) + src.bytes(64) + bytes(b[i:])
    if kind == "delete" and n:
        i = src.int(0, n - 1)
        return bytes(b[:i] + b[i + src.int(1, 256):])
    if kind == "duplicate" and n:
        i = src.int(0, n - 1)
        j = min(n, i + src.int(1, 512))
        return bytes(b[:j] + b[i:j] + b[j:])
    if kind == "header_int" and n >= 8:
        # a 2- or 4-byte little-endian field in the first 64 bytes (sizes, rates, channels, ...)
        i = src.int(0, min(n, 64) - 4)
        w = src.choice([2, 4])
        v = src.choice([0, 1, 2, 3, 7, 255, 1024, 4000, 65535, 96000, 2**31 - 1, 2**32 - 1,
                        src.int(0, 2**32 - 1)])
        b[i:i + w] = int(v % (1 << (8 * w))).to_bytes(w, "little")
        return bytes(b)
    if kind == "append":
        return bytes(b) + src.bytes(128)
    return bytes(b)


def gen_audio(src) -> dict:
    """One audio-reader input: ``{"files": [(suffix, bytes)], "channels", "n_speakers", "block"}``."""
    pool = audio_pool()
    how = src.choice(["mutated", "mutated", "mutated", "valid", "magic_random", "random", "empty"])
    if how in ("mutated", "valid"):
        suffix, data = src.choice(pool)
        if how == "mutated":
            for _ in range(src.int(1, 3)):
                data = _mutate(src, data)
    elif how == "magic_random":
        suffix, data = src.choice(AUDIO_SUFFIXES), src.choice(MAGIC) + src.bytes(512)
    elif how == "random":
        suffix, data = src.choice(AUDIO_SUFFIXES), src.bytes(2048)
    else:
        suffix, data = src.choice(AUDIO_SUFFIXES), b""
    if src.bool(0.15):
        suffix = src.choice(AUDIO_SUFFIXES)  # the wrong extension for the content
    files = [(suffix, data)]
    if src.bool(0.15):
        s2, d2 = src.choice(pool)
        if src.bool(0.5):
            d2 = _mutate(src, d2)
        files.append((s2, d2))
    channels = src.choice([None, None, None, [1, 2], [2, 1], [1], [3, 1], [0, 5], [1, 1]])
    return {"files": files, "channels": channels, "n_speakers": src.choice([None, 2, 1]),
            "block": src.choice([64, 1000, 4096, 1 << 16])}


def write_audio_case(case: dict, folder: Path) -> list[Path]:
    paths = []
    for k, (suffix, data) in enumerate(case["files"]):
        p = Path(folder) / f"in{k}{suffix}"
        p.write_bytes(data)
        paths.append(p)
    return paths


def check_audio(case: dict, folder: Path, max_blocks: int = 20000) -> str:
    """``plan_sources`` then ``read_blocks`` to the end: ``"ok"`` or ``"error"`` (clear)."""
    from prosync.streams.files import plan_sources, read_blocks

    paths = write_audio_case(case, folder)
    try:
        srcs = plan_sources(paths, case["channels"], case["n_speakers"])
        assert 1 <= len(srcs) <= 2
        for s in srcs:
            assert s.sample_rate >= 8000 and s.frames > 0, s
        for k, blocks in enumerate(read_blocks(srcs, block=case["block"])):
            assert len(blocks) == len(srcs)
            for b in blocks:
                assert b.dtype == np.float32 and b.ndim == 1 and b.flags.c_contiguous
                assert np.isfinite(b).all()
            if k > max_blocks:
                raise AssertionError(f"read_blocks yielded more than {max_blocks} blocks")
        return "ok"
    except ProsyncError as exc:
        check_message(exc)
        return "error"


# --------------------------------------------------------------------------- RTTM
NUMBERS = ["0", "0.5", "1", "1.25", "12.0", "3e1", "-1", "-0.0", "nan", "NaN", "inf", "-inf", "1e400",
           "1e308", "1e-400", "1_000", "+.5", ".", "", "0x10", "\u0661\u0662", "１２", "5,5", "1e5",
           "9" * 400, "100000000000000000000"]
NAMES = ["A", "B", "C", "spk1", "spk2", "<NA>", "Ä", "a b", "x" * 300, "SPEAKER", ";;", "\u200b"]
SEPS = [" ", " ", "\t", "  ", "\x0b", "\x0c", "\x1c", "\u2028", "\u3000", "\x85"]
ENDS = ["\n", "\n", "\r\n", "\r", "\u2028", ""]


def gen_rttm(src) -> bytes:
    """RTTM bytes: half of them near-valid diarizations (two or three speakers, sane times, one
    odd line at most), half hostile."""
    clean = src.bool(0.5)
    lines = []
    for _ in range(src.int(0 if not clean else 2, 12)):
        if clean:
            kind = src.choice(["speaker"] * 8 + ["comment", "other", "blank", "tokens"])
        else:
            kind = src.choice(["speaker", "speaker", "speaker", "comment", "other", "short", "tokens",
                               "blank", "bytes"])
        if kind == "speaker":
            if clean and src.bool(0.9):
                start, dur = f"{src.float(0, 20):.3f}", f"{src.float(0, 4):.3f}"
                name = src.choice(["A", "B", "A", "B", "C"])
            else:
                start = src.choice(NUMBERS + [f"{src.float(0, 30):.3f}"] * 6)
                dur = src.choice(NUMBERS + [f"{src.float(0, 5):.3f}"] * 6)
                name = src.choice(NAMES[:4] * 3 + NAMES)
            f = ["SPEAKER", src.choice(["rec"] * 6 + ["other", "in0"]), "1", start, dur, "<NA>", "<NA>",
                 name, "<NA>", "<NA>"]
            f = f[:src.choice([8, 9, 10, 10, 10, 11])]
            sep = " " if src.bool(0.8) else (src.choice([" ", "\t", "  "]) if clean else src.choice(SEPS))
            line = sep.join(f)
        elif kind == "comment":
            line = ";; " + src.choice(["comment", "SPEAKER x 1 0 1 <NA> <NA> A <NA> <NA>", ""])
        elif kind == "other":
            line = src.choice(["SPKR-INFO rec 1 <NA> <NA> <NA> unknown A <NA> <NA>",
                               "LEXEME rec 1 0.5 0.2 hello lex A <NA>", "NOSCORE", "speaker rec 1 0 1"])
        elif kind == "short":
            line = " ".join(["SPEAKER", "rec", "1", "0", "1", "<NA>", "<NA>"][:src.int(1, 7)])
        elif kind == "tokens":
            line = " ".join(src.choice(NUMBERS + NAMES) for _ in range(src.int(0, 10)))
        elif kind == "blank":
            line = src.choice(["", "   ", "\t"])
        else:
            line = src.bytes(40).decode("latin-1")
        lines.append(line + (src.choice(ENDS) if not clean else src.choice(["\n", "\n", "\r\n"])))
    text = "".join(lines)
    enc = src.choice(["utf-8", "utf-8", "utf-8", "utf-8-sig"] if clean else
                     ["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1", "raw"])
    if enc == "raw":
        return src.bytes(300)
    try:
        return text.encode(enc)
    except UnicodeEncodeError:
        return text.encode("utf-8")


def check_rttm(data: bytes, folder: Path, duration_s: float = 20.0, speakers=None) -> str:
    from prosync.streams import rttm as R

    p = Path(folder) / "in.rttm"
    p.write_bytes(data)
    try:
        turns = R.read_rttm(p)
        assert turns
        for t in turns:
            assert math.isfinite(t.start_s) and t.start_s >= 0 and t.end_s >= t.start_s, t
            assert isinstance(t.speaker, str) and t.speaker
        names, kept = R.select(turns, p, Path(folder) / "rec.wav", duration_s, speakers)
        assert len(names) == 2 and len(set(names)) == 2, names
        sr = 16000
        iv = [R.intervals(kept, n, sr) for n in names]
        for v in iv:
            assert v.ndim == 2 and v.shape[1] == 2 and (v[:, 1] > v[:, 0]).all()
            assert (v[1:, 0] > v[:-1, 1]).all()
        R.overlaps(iv[0], iv[1])
        blk = np.ones(4000, np.float32)
        for pos in (0, 8000, int(duration_s * sr)):
            g = R.gate(blk, pos, iv[0])
            assert g.shape == blk.shape
        return "ok"
    except ProsyncError as exc:
        check_message(exc)
        return "error"


# --------------------------------------------------------------------------- corpus manifest
COLUMNS = ["session", "audio", "audio2", "rttm", "speakers", "notes", "", "Session", "session "]
VALUES = ["s1", "s2", "s1", "a.wav", "b.wav", "sub/c.flac", "", " ", "x.rttm", "a,b", "client,coach",
          "a,a", "../up", "a/b", "..", ".", ".hidden", "x=y", "ä", "con", "/abs/path.wav", "a\nb",
          'q"uote', "x" * 300, "\x00", "s 1", "\\back"]


def _csv_field(v: str) -> str:
    if any(c in v for c in ',"\n\r'):
        return '"' + v.replace('"', '""') + '"'
    return v


def gen_manifest(src) -> bytes:
    cols = [src.choice(COLUMNS) for _ in range(src.int(0, 6))]
    if src.bool(0.7):
        cols = ["session", "audio"] + [c for c in cols if c not in ("session", "audio")]
    delim = src.choice([",", ",", ",", ";", "\t"])
    rows = [delim.join(_csv_field(c) for c in cols)]
    for _ in range(src.int(0, 8)):
        n = len(cols) + src.choice([0, 0, 0, -1, 1, -len(cols)])
        vals = [src.choice(VALUES) for _ in range(max(n, 0))]
        if src.bool(0.1):
            rows.append(delim.join(vals))  # unquoted: embedded quotes and newlines break rows
        else:
            rows.append(delim.join(_csv_field(v) for v in vals))
    end = src.choice(["\n", "\r\n", "\r"])
    text = end.join(rows) + src.choice([end, ""])
    enc = src.choice(["utf-8", "utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16", "raw"])
    if enc == "raw":
        return src.bytes(300)
    try:
        return text.encode(enc)
    except UnicodeEncodeError:
        return text.encode("utf-8")


def check_manifest(data: bytes, folder: Path) -> str:
    from prosync.corpus import discover

    p = Path(folder) / "manifest.csv"
    p.write_bytes(data)
    try:
        specs = discover(folder, p)
        names = [s.session for s in specs]
        assert len(set(names)) == len(names), f"duplicate session names {names}"
        for s in specs:
            n = s.session
            assert isinstance(n, str) and n.strip() == n and n, n
            assert not n.startswith(".") and "/" not in n and "\\" not in n and "\x00" not in n, n
            assert os.path.normpath(n) == n, n
            assert 1 <= len(s.inputs) <= 2 and all(isinstance(x, str) and x for x in s.inputs)
            assert s.rttm is None or isinstance(s.rttm, str)
            assert s.speakers is None or all(isinstance(x, str) for x in s.speakers)
        return "ok"
    except ProsyncError as exc:
        check_message(exc)
        return "error"


TARGETS = {
    "audio": (gen_audio, lambda case, d: check_audio(case, d)),
    "rttm": (lambda src: (gen_rttm(src), src.choice([None, None, ["A", "B"], ["B", "C"], ["A"], ["A", "Z"]])),
             lambda case, d: check_rttm(case[0], d, speakers=case[1])),
    "manifest": (gen_manifest, lambda data, d: check_manifest(data, d)),
}


# --------------------------------------------------------------------------- WebSocket protocol
#: Error codes of docs/PROTOCOL.md (``internal`` is a server bug: counted as a crash).
WS_CODES = {"bad_json", "bad_message", "unknown_type", "not_started", "already_started", "bad_start",
            "bad_speaker", "odd_bytes", "bad_audio", "too_big"}
WS_MAX_BYTES = 256 * 1024
PROBE = '{"type": "fuzz_probe"}'
_JSON_VALUES = [0, -1, 1.5, 1e308, True, None, "", "x", [], [1, "a"], {}, {"a": {"b": [None]}}, "\u0000",
                "\ud7ff", 16000, 8000, 384000, 384001, 7999, "16000", 2**63]
_START_FIELDS = {
    "sample_rate": [8000, 16000, 44100, 48000],
    "speakers": [["user", "agent"], ["u", "a"], ["ü", "agent x"]],
    "protocol_version": ["1.0", "1.3"],
    "metrics_interval_ms": [0, 100, 250],
    "frames": [True, False],
    "pad_agent": [True, False],
    "two_mics": [True, False],
    "config": [{}, {"turns": {"ipu_bridge_s": 0.2}}, {"pacing": {"max_reply_delay_ms": 1200}}],
}
_BAD_START = [("sample_rate", v) for v in ("16000", 7999, 384001, 16000.5, True, None, [], -1, 1e308)] + [
    ("speakers", v) for v in (["a"], ["a", "a"], [1, 2], "ab", ["", ""], [], None, ["a", "b", "c"])] + [
    ("protocol_version", v) for v in ("2.0", "0.9", 1, "x", "")] + [
    ("metrics_interval_ms", v) for v in (-1, "x", 1e9, None)] + [
    ("frames", v) for v in ("yes", 1.5, None)] + [
    ("config", v) for v in ("x", [], {"nope": {}}, {"turns": {"nope": 1}}, {"turns": {"ipu_bridge_s": -5}},
                            {"turns": "x"})] + [
    ("bogus_field", 1), ("Sample_rate", 16000)]


def _start(src, valid=True) -> dict:
    m = {"type": "start", "sample_rate": src.choice(_START_FIELDS["sample_rate"])}
    for k, vals in _START_FIELDS.items():
        if k != "sample_rate" and src.bool(0.25):
            m[k] = src.choice(vals)
    if not valid:
        k, v = src.choice(_BAD_START)
        if v is None and k != "sample_rate" and src.bool(0.5):
            m.pop(k, None)
            m["sample_rate" if k != "sample_rate" else k] = m.get("sample_rate", None)
        m[k] = v
    return m


def gen_ws(src, deep_nesting: bool = True) -> list[tuple[str, object, str]]:
    """One connection: ``[(kind, payload, expect)]``, kind ``text``/``binary``, expect ``accept``,
    ``reject`` (exactly one error message) or ``either``. ``deep_nesting=False`` leaves out the
    deeply nested JSON (2,000 levels: slow to send, and covered by its own test)."""
    import json

    msgs = []
    started: bool | None = False
    rate = 16000
    if src.bool(0.6):
        m = _start(src)
        rate = m["sample_rate"]
        msgs.append(("text", json.dumps(m), "accept"))
        started = True
    for _ in range(src.int(1, 8)):
        kind = src.choice(["audio", "audio", "audio", "not_json", "json_value", "no_type", "unknown",
                           "start", "bad_start", "random_start", "empty", "bad_speaker", "odd",
                           "stop_early", "too_big", "utf8_garbage"])
        sure = "reject" if started is not None else "either"
        if kind == "audio":
            n = src.int(1, rate // 25) * 2
            spk = src.choice([0, 1])
            pcm = np.random.default_rng(src.int(0, 2**31)).integers(-32768, 32767, n // 2, dtype=np.int16)
            if src.bool(0.5):
                pcm = (pcm // 64).astype(np.int16)
            expect = "accept" if started else ("reject" if started is False else "either")
            msgs.append(("binary", bytes([spk]) + pcm.astype("<i2").tobytes(), expect))
        elif kind == "not_json":
            msgs.append(("text", src.choice(["", "{", "nonjson", "{'type': 'start'}", '{"type": "stop"',
                                             "NaN", "\x00"] + (["[" * 2000] if deep_nesting else [])),
                         "reject"))
        elif kind == "utf8_garbage":
            msgs.append(("text", src.bytes(64).decode("latin-1"), "either"))
        elif kind == "json_value":
            msgs.append(("text", json.dumps(src.choice(_JSON_VALUES)), "reject"))
        elif kind == "no_type":
            obj = {src.choice(["tipe", "Type", "", "sample_rate"]): src.choice(_JSON_VALUES)}
            if src.bool(0.5):
                obj["type"] = src.choice([1, None, [], {}, True, 2.5])
            msgs.append(("text", json.dumps(obj), "reject"))
        elif kind == "unknown":
            msgs.append(("text", json.dumps({"type": src.choice(["metrics", "ready", "START", "stopp",
                                                                  "", "summary", "error", "x" * 500])}),
                         "reject"))
        elif kind == "start":
            m = _start(src)
            if started is False:
                rate = m["sample_rate"]
                started = True
                msgs.append(("text", json.dumps(m), "accept"))
            else:
                msgs.append(("text", json.dumps(m), sure))
        elif kind == "bad_start":
            msgs.append(("text", json.dumps(_start(src, valid=False)), "reject"))
        elif kind == "random_start":
            m = {"type": "start"}
            for _ in range(src.int(0, 4)):
                m[src.choice(list(_START_FIELDS) + ["x", "type"])] = src.choice(_JSON_VALUES)
            m["type"] = "start"
            msgs.append(("text", json.dumps(m), "either"))
            if started is False:
                started = None
        elif kind == "empty":
            msgs.append(("binary", b"", "reject"))
        elif kind == "bad_speaker":
            msgs.append(("binary", bytes([src.int(2, 255)]) + b"\x00\x00" * src.int(0, 40), "reject"))
        elif kind == "odd":
            pcm = (src.bytes(81) + b"\x00" * 81)[:2 * src.int(0, 40) + 1]
            msgs.append(("binary", bytes([src.choice([0, 1])]) + pcm, "reject"))
        elif kind == "stop_early":
            if started is False:
                msgs.append(("text", '{"type": "stop"}', "reject"))
        elif kind == "too_big":
            if src.bool(0.1):
                msgs.append(("binary", bytes([0]) + b"\x00" * (WS_MAX_BYTES + 2 * src.int(1, 500)), "reject"))
    if started and src.bool(0.3):
        msgs.append(("text", '{"type": "stop"}', "accept"))
    return msgs


def ws_case_to_json(case) -> str:
    import json

    return json.dumps([{"text": p, "expect": e} if k == "text" else {"binary_hex": p.hex(), "expect": e}
                       for k, p, e in case], indent=0)


def ws_case_from_json(text: str):
    import json

    msgs = json.loads(text)
    out = []
    for i, m in enumerate(msgs):
        if "text" in m:
            # a stop ends the connection when it is last and a start came before it
            last_stop = (m["text"] == '{"type": "stop"}' and i == len(msgs) - 1
                         and any('"start"' in x.get("text", "") for x in msgs[:i]))
            out.append(("text", m["text"], m.get("expect") or ("accept" if last_stop else "either")))
        else:
            out.append(("binary", bytes.fromhex(m["binary_hex"]), m.get("expect") or "either"))
    return out


class WsChecker:
    """Sends one case over a fresh connection, then a probe (an unknown type) that must come back
    as an ``unknown_type`` error: the connection, and the server, are alive. Every message received
    must be a documented type, every error a documented code (never ``internal``) with a one-line
    message, and the number of errors must match the rejections the case expects."""

    def __init__(self, url: str, timeout: float = 10.0, token: str | None = None):
        self.url = url + (f"?token={token}" if token else "")
        self.timeout = timeout

    def check(self, case) -> tuple[str, str]:
        import json

        from websockets.sync.client import connect

        LAST_COUNT[0] = len(case)
        lo = sum(e == "reject" for _, _, e in case)
        hi = lo + sum(e == "either" for _, _, e in case)
        stopped = any(k == "text" and p == '{"type": "stop"}' and e == "accept" for k, p, e in case)
        got = []
        with connect(self.url, max_size=None, open_timeout=self.timeout, close_timeout=2) as ws:
            for _k, p, _ in case:
                ws.send(p)
            if not stopped:
                ws.send(PROBE)
            while True:
                try:
                    raw = ws.recv(timeout=self.timeout)
                except TimeoutError:
                    kinds = [m.get("type") for m in got]
                    raise AssertionError(f"no answer in {self.timeout} s; got {kinds}") from None
                except Exception as exc:  # noqa: BLE001 - closed
                    if stopped and got and got[-1].get("type") == "summary":
                        break
                    raise AssertionError(f"connection closed: {exc!r}") from None
                assert isinstance(raw, str), f"binary message from the server: {raw[:40]!r}"
                m = json.loads(raw)
                assert isinstance(m, dict) and m.get("type") in ("ready", "metrics", "summary", "error"), m
                if m["type"] == "error":
                    assert m.get("code") in WS_CODES, f"error code {m.get('code')!r}: {m.get('message')}"
                    msg = m.get("message")
                    assert isinstance(msg, str) and msg.strip() and "\n" not in msg, m
                    if "fuzz_probe" in msg and m["code"] == "unknown_type":
                        break
                got.append(m)
        errors = [m for m in got if m["type"] == "error"]
        assert lo <= len(errors) <= hi, (f"{len(errors)} error messages for {lo} to {hi} rejections: "
                                         f"{[m['code'] for m in errors]}")
        if errors:
            LAST_ERROR[0] = errors[0]["code"] + ": " + errors[0]["message"]
            return "error", LAST_ERROR[0]
        return "ok", ""

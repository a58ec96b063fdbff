"""Fuzzing of the input parsers (short run; ``bench/reliability/fuzz.py`` is the long one).

Every generated input (audio bytes under an audio file name, RTTM text, manifest CSV) either parses
or raises ``ProsyncError`` with a one-line message: never another exception, never a hang. The
generators and oracles are in ``tests/fuzz_targets.py``; ``tests/fuzz_corpus/`` keeps the inputs
that found bugs or reach distinct branches, replayed here.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prosync.corpus import discover
from prosync.engine.errors import ProsyncError
from prosync.streams.rttm import read_rttm
from tests.fuzz_targets import (
    HypSource,
    check_audio,
    check_manifest,
    check_rttm,
    gen_audio,
    gen_manifest,
    gen_rttm,
)

CORPUS = Path(__file__).resolve().parent / "fuzz_corpus"
#: An input taking longer than this is a hang (the inputs are tiny).
HANG_S = 5.0
def FUZZ(n):
    return settings(max_examples=n, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


def _timed(fn, *a, **kw):
    t0 = time.perf_counter()
    r = fn(*a, **kw)
    dt = time.perf_counter() - t0
    assert dt < HANG_S, f"took {dt:.1f} s: a hang"
    assert r in ("ok", "error")
    return r


@pytest.fixture(scope="module")
def quiet_stderr():
    """libmpg123 prints its resync notes on fd 2 for every corrupt MP3: keep the log readable."""
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(null)
        os.close(saved)


@FUZZ(300)
@given(st.data())
def test_audio_readers_parse_or_raise_a_clear_error(quiet_stderr, data):
    case = gen_audio(HypSource(data.draw))
    with tempfile.TemporaryDirectory() as d:
        _timed(check_audio, case, Path(d))


@FUZZ(400)
@given(st.data())
def test_rttm_parser_parses_or_raises_a_clear_error(data):
    src = HypSource(data.draw)
    text = gen_rttm(src)
    speakers = src.choice([None, None, ["A", "B"], ["B", "C"], ["A"], ["A", "Z"]])
    dur = src.float(0.0, 40.0)
    with tempfile.TemporaryDirectory() as d:
        _timed(check_rttm, text, Path(d), duration_s=dur, speakers=speakers)


@FUZZ(400)
@given(st.data())
def test_manifest_parser_parses_or_raises_a_clear_error(data):
    raw = gen_manifest(HypSource(data.draw))
    with tempfile.TemporaryDirectory() as d:
        _timed(check_manifest, raw, Path(d))


@FUZZ(200)
@given(st.binary(max_size=600))
def test_raw_bytes_as_any_input(quiet_stderr, raw):
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        _timed(check_rttm, raw, d)
        _timed(check_manifest, raw, d)
        for suffix in (".wav", ".mp3"):
            _timed(check_audio, {"files": [(suffix, raw)], "channels": None, "n_speakers": None,
                                 "block": 4096}, d)


# ------------------------------------------------------------------ the kept corpus
def _corpus(kind):
    return sorted(p for p in (CORPUS / kind).glob("*") if p.is_file() and p.name != "README.md")


@pytest.mark.parametrize("path", _corpus("audio"), ids=lambda p: p.name)
def test_corpus_audio(quiet_stderr, path, tmp_path):
    for channels, n in ((None, None), (None, 2), ([1, 2], None)):
        _timed(check_audio, {"files": [(path.suffix, path.read_bytes())], "channels": channels,
                             "n_speakers": n, "block": 4096}, tmp_path)


@pytest.mark.parametrize("path", _corpus("rttm"), ids=lambda p: p.name)
def test_corpus_rttm(path, tmp_path):
    for speakers in (None, ["A", "B"]):
        _timed(check_rttm, path.read_bytes(), tmp_path, speakers=speakers)


@pytest.mark.parametrize("path", _corpus("manifest"), ids=lambda p: p.name)
def test_corpus_manifest(path, tmp_path):
    _timed(check_manifest, path.read_bytes(), tmp_path)


def test_corpus_is_not_empty():
    assert len(_corpus("audio")) >= 5 and len(_corpus("rttm")) >= 5 and len(_corpus("manifest")) >= 5


# ------------------------------------------------------------------ the bugs the fuzzers found
def test_rttm_with_a_byte_order_mark_keeps_its_first_line(tmp_path):
    text = "SPEAKER rec 1 0.0 1.0 <NA> <NA> A <NA> <NA>\nSPEAKER rec 1 1.5 1.0 <NA> <NA> B <NA> <NA>\n"
    (tmp_path / "plain.rttm").write_text(text, encoding="utf-8")
    (tmp_path / "bom.rttm").write_text(text, encoding="utf-8-sig")
    assert read_rttm(tmp_path / "bom.rttm") == read_rttm(tmp_path / "plain.rttm")


@pytest.mark.parametrize("csv_text, message", [
    ("session,audio,rttm\ns1\n", "no audio file"),                          # was TypeError
    ("session,audio\n,a.wav\ns1,b.wav\n", "session name '' is empty"),      # was TypeError (sort)
    ("session,audio\n../..,a.wav\n", "is not a plain file name"),           # was rmtree outside OUT
    ("session,audio\nsub/s1,a.wav\n", "is not a plain file name"),
    ("session,audio\ns1,a.wav\ns1,b.wav\n", "is already on line 2"),       # two sessions, one folder
    ("session,audio,speakers\ns1,a.wav,client,coach\n", "more fields than the header"),
    ("session;audio\ns1;a.wav\n", "needs a header"),
    ("session,audio\n", "lists no sessions"),
])
def test_manifest_errors_are_clear(tmp_path, csv_text, message):
    m = tmp_path / "m.csv"
    m.write_text(csv_text)
    with pytest.raises(ProsyncError, match=message) as e:
        discover(tmp_path, m)
    assert "\n" not in str(e.value) and str(m) in str(e.value)


def test_manifest_bom_invalid_utf8_and_spaces(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text('session , audio,speakers\ns1, a.wav ,"client, coach"\n',
                 encoding="utf-8-sig")                                  # Excel's "CSV UTF-8"
    (spec,) = discover(tmp_path, m)
    assert spec.session == "s1" and spec.inputs == [str(tmp_path / "a.wav")]
    assert spec.speakers == ["client", "coach"]
    m.write_bytes(b"session,audio\ns\xe9ance,a.wav\n")                # Latin-1, was UnicodeDecodeError
    with pytest.raises(ProsyncError, match="not UTF-8"):
        discover(tmp_path, m)


def test_a_path_like_session_name_never_reaches_the_file_system(tmp_path):
    """Before the fix ``score_session`` ran ``rmtree(OUT/.work/<session>)``: ``..`` escaped OUT."""
    keep = tmp_path / "keep.txt"
    keep.write_text("precious")
    m = tmp_path / "in" / "m.csv"
    m.parent.mkdir()
    m.write_text("session,audio\n../..,x.wav\n")
    from prosync.corpus import run_corpus

    with pytest.raises(ProsyncError):
        run_corpus(m.parent, tmp_path / "in" / "out", manifest=m, workers=1, progress=False)
    assert keep.read_text() == "precious"


def test_audio_generators_cover_both_outcomes(quiet_stderr, tmp_path):
    """The generator is not degenerate: some inputs parse, some are rejected."""
    from tests.fuzz_targets import RngSource

    src = RngSource(np.random.default_rng(7))
    got = {_timed(check_audio, gen_audio(src), tmp_path) for _ in range(150)}
    assert got == {"ok", "error"}

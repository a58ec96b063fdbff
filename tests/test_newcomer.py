"""What a new user sees, found by using the tool as the README says: each test here failed before
its fix (a misleading line, a stale file, a message naming Python rather than the flag).
``stereo`` (conftest): a 12 s two-voice dialogue."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest
import soundfile as sf

from prosync.cli import main
from tests.audio import dialogue


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_out_that_is_a_file_is_named_as_such(stereo, tmp_path, capsys):
    """``-o`` naming an existing file said 'File exists: check the path and its permissions'."""
    f = tmp_path / "results.txt"
    f.write_text("notes\n")
    assert main(["score", str(stereo), "-o", str(f), "--quiet"]) == 2
    line = _one_line(capsys)
    assert f"{f}: is a file, not a folder" in line
    assert f.read_text() == "notes\n"


def test_speakers_named_twice_is_said_as_the_flag(stereo, tmp_path, capsys):
    """The message showed a Python tuple: ``--speakers ('a', 'a') is invalid``."""
    assert main(["score", str(stereo), "-o", str(tmp_path / "o"), "--speakers", "a,a"]) == 2
    line = _one_line(capsys)
    assert "--speakers a,a is invalid" in line and "(" not in line


def test_interrupt_while_drawing_the_report_leaves_no_stale_report(stereo, tmp_path, monkeypatch,
                                                                   caplog):
    """Ctrl-C after the tables and summary.json were finished, while report.html was drawn, left
    the report of an earlier run beside the new tables."""
    import prosync.report
    from prosync.score import score

    out = tmp_path / "o"
    score([stereo], out, speakers=["x", "y"])
    assert "x &amp; y" in (out / "report.html").read_text()

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(prosync.report, "render", interrupted)
    with caplog.at_level(logging.WARNING, logger="prosync"), pytest.raises(KeyboardInterrupt):
        score([stereo], out, speakers=["p", "q"])
    assert not (out / "report.html").exists()
    assert set(json.loads((out / "summary.json").read_text())["speakers"]) == {"p", "q"}
    assert not list(out.glob(".*partial"))
    assert "stopped while drawing report.html" in caplog.text


def test_interrupt_before_the_tables_keeps_the_earlier_run_whole(stereo, tmp_path, monkeypatch):
    """Stopped before anything new was finished: the earlier run's folder stays as it was."""
    import prosync.streams.parquet
    from prosync.score import score

    out = tmp_path / "o"
    score([stereo], out, speakers=["x", "y"])

    def interrupted(self, summary):
        raise KeyboardInterrupt

    monkeypatch.setattr(prosync.streams.parquet.SessionWriter, "_close", interrupted)
    with pytest.raises(KeyboardInterrupt):
        score([stereo], out, speakers=["p", "q"])
    assert "x &amp; y" in (out / "report.html").read_text()
    assert set(json.loads((out / "summary.json").read_text())["speakers"]) == {"x", "y"}


def _sync_row(r_lag0, session_r=None):
    return {"windows": 20, "valid_windows": 20, "mean_r_lag0": r_lag0, "mean_r_peak": r_lag0,
            "mean_peak_lag_s": 0.1, "significant_fraction": 0.0, "session_r": session_r,
            "session_lag_s": None if session_r is None else 0.3,
            "session_p": None if session_r is None else 0.04}


def test_no_session_test_reads_as_a_dash_not_dash_at_dash(monkeypatch, capsys):
    """'– at – s' (report) and '– @ –' (terminal) where a session had no session test."""
    from prosync.commands.offline import _print_summary
    from prosync.report_tables import summary_tables

    sync = {"f0": _sync_row(0.1), "vad": _sync_row(-0.5, session_r=-0.6)}
    page = summary_tables({"speakers": {}, "synchrony": sync})
    assert "– at" not in page and "-0.60 at +0.3 s" in page
    monkeypatch.setenv("COLUMNS", "100")
    _print_summary(SimpleNamespace(summary={"duration_s": 30.0, "turn_events": {}, "speakers": {},
                                            "fto_s": {"count": 0, "median": None},
                                            "synchrony": sync}, files=[], report=None))
    text = capsys.readouterr().out
    assert "– @" not in text and "-0.60 @ +0.3" in text, text


def test_demo_calls_negative_only_what_is_negative(capsys):
    """The demo said energy's windowed synchrony was negative where its mean r was +0.03."""
    from prosync.commands.offline import _print_following

    lh = {"ben_follows_ada": {"f0_mean_hz": {"synchrony_r": 0.44, "synchrony_p": None, "pairs": 12,
                                             "p_note": "too few"}}}
    summary = {"entrainment": {"levitan_hirschberg": lh},
               "synchrony": {"f0": _sync_row(0.04), "energy": _sync_row(0.03),
                             "rate": _sync_row(-0.04), "vad": _sync_row(-0.74)}}
    _print_following(SimpleNamespace(summary=summary), "ben", "ada")
    out = " ".join(capsys.readouterr().out.split())
    claim = out[out.index("windowed synchrony"):]
    assert "voice activity -0.74" in claim
    assert "energy" not in claim and "speech rate" not in claim and "pitch" not in claim


def test_one_speaker_report_and_terminal_say_what_one_speaker_cannot_show(tmp_path, capsys):
    """A mono file (a phone call, say) is one speaker: the report drew an empty floor-transfer
    histogram ('the speakers never took the floor from each other') and named synchrony
    settings; nothing pointed to ``--rttm`` for a mix of two voices."""
    from prosync.report import ONE_SPEAKER

    a, b, _ = dialogue()
    sf.write(str(tmp_path / "mix.wav"), a + b, 16000)
    assert main(["score", str(tmp_path / "mix.wav"), "-o", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "--rttm" in err and "one speaker" in err.lower()
    page = (tmp_path / "o" / "report.html").read_text()
    assert "Floor-transfer offsets" not in page and "never took the floor" not in page
    assert "s windows" not in page and ONE_SPEAKER.split(":")[0] in page


def test_readme_states_the_turn_exchanges_a_p_value_needs():
    """The README said 10 turn exchanges where the calibrated p-values need 22."""
    from pathlib import Path

    from prosync.engine.entrain_null import MIN_EXCHANGES

    text = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert f"fewer than {MIN_EXCHANGES} turn exchanges are `null`" in text
    assert f"({MIN_EXCHANGES} are needed)" in text

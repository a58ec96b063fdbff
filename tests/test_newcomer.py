"""What a new user sees, found by using the tool as the README says: each test here failed before
its fix (a misleading line, a stale file, a message naming Python rather than the flag).
``stereo`` (conftest): a 12 s two-voice dialogue."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from prosync.cli import main
from tests.audio import dialogue


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


@pytest.mark.parametrize("cmd", ["score", "corpus"])
def test_out_that_is_a_file_is_named_as_such(cmd, stereo, tmp_path, capsys):
    """``-o`` naming an existing file said 'File exists: check the path and its permissions'."""
    f = tmp_path / "results.txt"
    f.write_text("notes\n")
    src = str(stereo) if cmd == "score" else str(stereo.parent)
    assert main([cmd, src, "-o", str(f), "--quiet"]) == 2
    line = _one_line(capsys)
    assert f"{f}: is a file, not a folder" in line
    assert f.read_text() == "notes\n"


def test_a_recording_into_a_file_is_named_as_such(tmp_path):
    """``prosync live --record FILE`` met the same 'File exists'."""
    from prosync.engine.errors import ProsyncError
    from prosync.streams.journal import Recorder

    f = tmp_path / "session1"
    f.write_text("")
    with pytest.raises(ProsyncError, match="is a file, not a folder"):
        Recorder(f, ("a", "b"), 16000, one_file=True)


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


def test_readme_says_which_session_tests_the_engine_withholds():
    """The README said speech rate's session test fired on 14-16 % of null sessions after the
    engine's reason (``UNCALIBRATED["rate"]``) was re-measured at 9.6 %; it must say a feature
    has no session p-value exactly when the engine withholds one, quoting the engine's figure."""
    import re

    from prosync.engine.session_sync import UNCALIBRATED

    text = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert bool(re.search(r"speech rate has no session p-value", text)) == ("rate" in UNCALIBRATED)
    for feature, reason in UNCALIBRATED.items():
        share = re.search(r"(\d+(?:\.\d+)? %) \((\d+) of (\d+)\)", reason)
        assert share and f"{share[1]} ({share[2]} of {share[3]})" in text, (feature, reason)


@pytest.mark.parametrize("flag", ["--textgrid", "--rttm-out", "--profile"])
def test_an_output_path_in_a_missing_folder_fails_before_scoring(flag, stereo, tmp_path, capsys):
    """``--textgrid /no/such/x.TextGrid`` failed after the whole session was scored and written,
    naming the temporary file ``/no/such/.x.TextGrid.partial``."""
    out = tmp_path / "o"
    assert main(["score", str(stereo), "-o", str(out), flag, str(tmp_path / "no" / "x.out")]) == 2
    line = _one_line(capsys)
    assert line.startswith(f"prosync: error: {flag} ") and "does not exist" in line
    assert "partial" not in line and not out.exists()


def test_corpus_of_a_folder_without_audio_is_an_error(tmp_path, capsys):
    """A folder with no audio (a wrong path) was '0/0 sessions done' with exit code 0."""
    (tmp_path / "notes.txt").write_text("no audio here\n")
    assert main(["corpus", str(tmp_path), "-o", str(tmp_path / "ds"), "--quiet"]) == 2
    assert "no audio files in it or below it" in _one_line(capsys)


def test_serve_on_a_port_in_use_says_so(capsys):
    """An address in use said 'error:: error while attempting to bind ...: check the path and its
    permissions' (with --workers 2: a traceback from every worker)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["serve", "--port", str(port), "--workers", "2"]) == 2
    line = _one_line(capsys)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "give another --port" in line


@pytest.mark.skipif(not hasattr(__import__("socket"), "SO_REUSEPORT"), reason="no SO_REUSEPORT")
def test_serve_on_a_port_another_server_shares_says_so(capsys):
    """The probe bound with SO_REUSEPORT, so a port held by another `prosync serve --workers N`
    (whose workers listen with SO_REUSEPORT) passed the check and was silently shared."""
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["serve", "--port", str(port), "--workers", "2"]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in _one_line(capsys)


def test_speaker_names_are_whole_in_the_terminal_table(monkeypatch, capsys):
    """An RTTM's 'speaker90' and 'speaker91' both printed as 'speake…' at 80 columns."""
    from prosync.commands.offline import _print_summary

    monkeypatch.setenv("COLUMNS", "80")
    row = {"speech_fraction": 0.4, "voiced_fraction": 0.3, "f0_median_hz": 197.0,
           "f0_range_st_5_95": 14.5, "speech_rate_sps": 2.2, "articulation_rate_sps": 5.56,
           "ipus": 5}
    _print_summary(SimpleNamespace(summary={"duration_s": 30.0, "turn_events": {},
                                            "fto_s": {"count": 0, "median": None},
                                            "speakers": {"speaker90": row, "speaker91": row}},
                                   files=[], report=None))
    lines = capsys.readouterr().out.splitlines()
    assert any("speaker90" in ln for ln in lines) and any("speaker91" in ln for ln in lines), lines
    assert all(len(ln) <= 80 for ln in lines)


def test_dashboard_says_late_hops_of_how_many():
    """'late hops 2232' alone: a user cannot tell 2232 of 5000 from 2232 of a million."""
    import io

    from rich.console import Console

    from prosync.dashboard import Dashboard

    d = Dashboard(("a", "b"), 0.049, title="prosync live (pulse, 44100 Hz)")
    d.stats = {"dropped_s": 0.0, "overflows": 0, "late_hops": 2232, "hops": 4920, "p50_ms": 78.0}
    for width in (100, 60):
        buf = io.StringIO()
        Console(file=buf, width=width, height=40, force_terminal=False).print(d.render())
        assert "late hops 2232 of 4920" in buf.getvalue(), buf.getvalue()


def test_stream_client_prints_no_python_none(capsys):
    """``prosync stream`` printed '[edge_silence None->agent]' for the recording's first silence."""
    from prosync.commands.serve import print_message

    row = {"kind": "edge_silence", "speaker": None, "start_s": 0.0, "end_s": 0.1, "fto_s": None,
           "speaker_before": None, "speaker_after": "agent"}
    print_message({"type": "metrics", "t_s": 0.2, "frames": [], "turns": [row], "advice": None})
    out = capsys.readouterr().out
    assert "[edge_silence ->agent]" in out and "None" not in out


def test_protocol_examples_carry_the_current_schema_version():
    """docs/PROTOCOL.md's metrics example said schema_version 2.0 under a header saying 2.2."""
    import re
    from pathlib import Path

    from prosync.engine.schema import SCHEMA_VERSION

    doc = (Path(__file__).resolve().parents[1] / "docs" / "PROTOCOL.md").read_text()
    found = re.findall(r'"schema_version": "([\d.]+)"', doc)
    assert found and set(found) == {SCHEMA_VERSION}, \
        f"update the examples in docs/PROTOCOL.md to schema {SCHEMA_VERSION}: {found}"


def test_corpus_line_says_how_many_dyads_each_p_rests_on(monkeypatch, capsys):
    """Three sessions, one with a silent speaker: 'p 0.37' came from 2 real against 4 pseudo-dyads,
    which the terminal did not say."""
    import prosync.corpus

    feat = {"real_mean": 0.38, "pseudo_mean": 0.19, "n_real": 2, "n_pseudo": 4, "cohens_d": 1.88,
            "p_value": 0.37, "reason": None}
    summary = {"done": 3, "sessions": 3, "audio_hours": 0.03, "failed": 0, "wall_s_this_run": 9.2,
               "failures": [], "pseudo_dyads": {"features": {"vad": feat}}}
    monkeypatch.setattr(prosync.corpus, "run_corpus", lambda *a, **k: summary)
    assert main(["corpus", "in", "-o", "out", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "vad: real 0.38 vs pseudo 0.19" in out and "2 real, 4 pseudo-dyads" in out


@pytest.mark.parametrize("flag", ["--textgrid", "--rttm-out"])
def test_a_side_output_inside_the_new_out_folder_is_accepted(flag, stereo, tmp_path, capsys):
    """``prosync score s.wav --out r/ --textgrid r/s.TextGrid`` was refused ('the folder r does
    not exist') although ``--out`` makes that folder."""
    out = tmp_path / "r"
    assert main(["score", str(stereo), "-o", str(out), flag, str(out / "s.x"), "--quiet",
                 "--no-report"]) == 0
    assert (out / "s.x").stat().st_size > 0 and (out / "turns.parquet").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize("flag", ["--textgrid", "--rttm-out"])
def test_a_side_output_that_cannot_be_written_fails_before_scoring(flag, stereo, tmp_path,
                                                                     capsys):
    """``--textgrid /proc/x.TextGrid`` failed after scoring, naming the temporary file
    ``/proc/.x.TextGrid.partial``."""
    out = tmp_path / "o"
    assert main(["score", str(stereo), "-o", str(out), flag, "/proc/x.out"]) == 2
    line = _one_line(capsys)
    assert line.startswith(f"prosync: error: {flag} /proc/x.out: cannot write in /proc")
    assert "partial" not in line and not out.exists()


def _timeline(out, names, monkeypatch):
    import prosync.report as report

    monkeypatch.setattr(report, "_png", lambda fig: fig.axes[0].get_title())
    return report.timeline_figure(out, names, 12.0)


def test_timeline_title_calls_only_floor_changes_floor_changes(stereo, tmp_path, monkeypatch):
    """The title said 'below, floor changes through gaps and overlaps', but the row below also
    holds overlaps within a turn (no floor change), and it said so for one speaker too."""
    from prosync.score import score

    score([stereo], tmp_path / "two", report=False)
    title, counts = _timeline(tmp_path / "two", ("a", "b"), monkeypatch)
    assert "overlaps within a turn" in title and "floor changes (gaps, overlaps between" in title
    a, _, _ = dialogue()
    sf.write(str(tmp_path / "one.wav"), a, 16000)
    score([tmp_path / "one.wav"], tmp_path / "one")
    title, _ = _timeline(tmp_path / "one", ("a",), monkeypatch)
    assert "floor" not in title and "below" not in title
    assert "second speaker follows" not in (tmp_path / "one" / "report.html").read_text()


def test_readme_names_every_table_score_and_corpus_write():
    """The README listed five tables for ``--out`` and 'each of the five tables' for a corpus;
    ``end_of_turn.parquet`` and ``turn_end.parquet`` are written too."""
    from prosync.streams.arrow import TABLES

    text = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    out = text[text.index("`--out` gets"):text.index("* **Two files of different lengths**")]
    assert all(f"`{t}.parquet`" in out for t in TABLES)
    words = {5: "five", 6: "six", 7: "seven", 8: "eight"}
    assert f"for each of the {words[len(TABLES)]} tables" in text


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_lookahead_s_is_what_a_frame_waits_for_at_any_rate(rate):
    """At 44.1 kHz the live dashboard counted about half the hops 'late': ``lookahead_s`` said
    49 ms, but the resampler holds back another 40 ms (116 ms at 8 kHz), so a frame came out up
    to 100 ms after its hop with 20 ms device blocks."""
    import math

    from prosync.engine.session import Session

    s = Session(("a", "b"), sample_rate=rate, synchrony=False)
    rng = np.random.default_rng(0)
    x = (0.05 * rng.standard_normal((rate * 3, 2))).astype(np.float32)
    block = rate // 50
    wait = []
    for i in range(0, len(x) - block + 1, block):
        s.push("a", x[i:i + block, 0])
        upd = s.push("b", x[i:i + block, 1])
        for t in upd.frames["a"]["t_s"] if "a" in upd.frames else ():
            last = math.ceil((round(t / 0.01 - 0.5) + 1) * 0.01 * rate) - 1  # the hop's last sample
            wait.append((i + block - 1 - last) / rate)
    # the hop's last sample is 5 ms after its centre; a frame waits at most one block more
    assert max(wait) <= s.lookahead_s - 0.005 + block / rate + 1e-9
    assert max(wait) >= s.lookahead_s - 0.005 - 0.010   # and the look-ahead is not overstated



def _voice(ipus, f0, seed, sr=16000, dur_s=12.0):
    from tests.audio import harmonic

    x = np.random.default_rng(seed).normal(0, 3e-4, int(sr * dur_s)).astype(np.float32)
    for st, en in ipus:
        seg = harmonic(f0, en - st, sr)
        tt = np.arange(len(seg)) / sr
        x[int(st * sr):int(st * sr) + len(seg)] += seg * (0.55 + 0.45 * np.sin(8 * np.pi * tt))
    return x


def test_turns_file_is_in_time_order_whatever_the_block_sizes(tmp_path):
    """turns.parquet held its rows in the order they became final: a's IPU from 2.49 s came
    after b's backchannel at 2.99 s inside it (a turn's IPU is final only once it ends), an order
    that also depends on the block sizes pushed."""
    import pyarrow.parquet as pq

    from prosync.engine.session import Session
    from prosync.streams.parquet import SessionWriter

    a = _voice([(0.2, 2.0), (2.5, 4.5), (6.8, 9.0)], 210.0, 1)
    b = _voice([(3.0, 3.6), (5.0, 7.2), (9.5, 11.0)], 110.0, 2)
    tables = []
    for block in (160, 4000):
        w = SessionWriter(tmp_path / str(block))
        s = Session(("a", "b"), sample_rate=16000, synchrony=False)
        for i in range(0, len(a), block):
            w.write(s.push("a", a[i:i + block]))
            w.write(s.push("b", b[i:i + block]))
        w.write(s.close())
        w.close(None)
        tables.append(pq.read_table(tmp_path / str(block) / "turns.parquet"))
    t = tables[0].to_pydict()
    assert {"overlap_within", "overlap_between", "pause", "gap"} <= set(t["kind"])
    order = list(zip(t["start_s"], t["end_s"]))
    assert order == sorted(order)
    assert tables[0].equals(tables[1])


def test_corpus_with_a_broken_session_exits_2(stereo, tmp_path, capsys):
    """A corpus run with a session that could not be scored exited 0, so
    ``prosync corpus in -o ds && analyse ds`` went on with a partial dataset."""
    import shutil

    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(stereo, src / "good.wav")
    (src / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    argv = ["corpus", str(src), "-o", str(tmp_path / "ds"), "--quiet", "--workers", "1"]
    assert main(argv) == 2
    assert "failed: broken:" in capsys.readouterr().err
    assert (tmp_path / "ds" / "summary" / "session=good" / "summary.json").exists()
    (src / "broken.wav").unlink()
    assert main(argv) == 0


def test_three_channels_picked_blames_channels_not_speakers(tmp_path, capsys):
    """``--channels 1,2,3`` on a 3-channel file said '--speakers a,b names 2 speaker(s) but the
    input has 3 speaker channel(s)', though no --speakers was given."""
    a, b, _ = dialogue()
    sf.write(str(tmp_path / "three.wav"), np.c_[a, b, a], 16000)
    out = tmp_path / "o"
    assert main(["score", str(tmp_path / "three.wav"), "--channels", "1,2,3", "-o", str(out)]) == 2
    line = _one_line(capsys)
    assert "--channels 1,2,3 picks 3 channels" in line and "--speakers" not in line
    assert not out.exists()


def test_recover_of_a_missing_folder_says_so(tmp_path, capsys):
    """``prosync recover typo/`` said 'typo has no metrics journal', not that there is no such
    folder."""
    assert main(["recover", str(tmp_path / "typo")]) == 2
    assert "typo: no such folder" in _one_line(capsys)


def test_energy_contours_do_not_dive_into_the_silence_after_speech(tmp_path):
    """A mono mix split by its RTTM drew each speaker's energy down to -120 dBFS after every turn
    (the speech hangover over the split's digital silence), squashing the contours into the top
    of the panel; the demo's dipped to -85 dBFS the same way."""
    from prosync.native.vad import ABS_FLOOR_DB
    from prosync.report import _frames_downsampled
    from prosync.score import score

    a, b, ipus = dialogue()
    sf.write(str(tmp_path / "mix.wav"), a + b, 16000)
    (tmp_path / "mix.rttm").write_text("".join(
        f"SPEAKER mix 1 {st:.3f} {en - st:.3f} <NA> <NA> {s} <NA> <NA>\n"
        for s, turns in ipus.items() for st, en in turns))
    score([tmp_path / "mix.wav"], tmp_path / "o", rttm=tmp_path / "mix.rttm", report=False)
    for name, (_, _, _, energy) in _frames_downsampled(tmp_path / "o", ("a", "b")).items():
        drawn = energy[np.isfinite(energy)]
        assert drawn.size > 300, name
        assert drawn.min() > ABS_FLOOR_DB, name


def test_corpus_line_says_a_missing_mean_as_a_dash(monkeypatch, capsys):
    """No session with a grand average: the line said 'real None vs pseudo None'; a mean was
    printed with all its digits."""
    import prosync.corpus

    feats = {"f0": {"real_mean": None, "pseudo_mean": None, "n_real": 0, "n_pseudo": 0,
                    "cohens_d": None, "p_value": None, "reason": "need 2"},
             "vad": {"real_mean": 0.3812345678, "pseudo_mean": 0.19, "n_real": 2, "n_pseudo": 4,
                     "cohens_d": 1.88, "p_value": 0.37, "reason": None}}
    summary = {"done": 3, "sessions": 3, "audio_hours": 0.03, "failed": 0, "wall_s_this_run": 9.2,
               "failures": [], "pseudo_dyads": {"features": feats}}
    monkeypatch.setattr(prosync.corpus, "run_corpus", lambda *a, **k: summary)
    assert main(["corpus", "in", "-o", "out", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "f0: real – vs pseudo – " in out and "None" not in out
    assert "vad: real 0.38 vs pseudo 0.19" in out

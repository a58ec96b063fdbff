import json
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from prosync.cli import main
from prosync.engine.schema import SCHEMA_VERSION
from tests.audio import dialogue


def test_score_stereo_writes_tables_and_summary(stereo, tmp_path, capsys):
    assert main(["score", str(stereo), "--out", str(tmp_path), "--speakers", "client,coach"]) == 0
    frames = pq.read_table(tmp_path / "frames.parquet")
    assert set(frames.column("speaker").to_pylist()) == {"client", "coach"}
    for col in ("t_s", "f0_hz", "voiced", "periodicity", "energy_db", "speech", "rate_sps"):
        assert col in frames.column_names
    md = frames.schema.metadata
    assert md[b"prosync.schema_version"].decode() == SCHEMA_VERSION
    turns = pq.read_table(tmp_path / "turns.parquet").to_pylist()
    kinds = {t["kind"] for t in turns}
    assert {"ipu", "gap"} <= kinds
    summ = json.loads((tmp_path / "summary.json").read_text())
    assert summ["speakers"]["client"]["f0_median_hz"] == pytest.approx(210, rel=0.03)
    assert summ["speakers"]["coach"]["f0_median_hz"] == pytest.approx(110, rel=0.03)
    assert not list(tmp_path.glob(".*partial"))
    assert "client" in capsys.readouterr().out


def test_score_two_mono_files_equals_stereo(stereo, tmp_path):
    x, sr = sf.read(str(stereo), dtype="float32")
    sf.write(str(tmp_path / "a.wav"), x[:, 0], sr, subtype="FLOAT")
    sf.write(str(tmp_path / "b.wav"), x[:, 1], sr, subtype="FLOAT")
    sf.write(str(tmp_path / "s.wav"), x, sr, subtype="FLOAT")
    assert main(["score", str(tmp_path / "a.wav"), str(tmp_path / "b.wav"), "--out",
                 str(tmp_path / "o1"), "--quiet"]) == 0
    assert main(["score", str(tmp_path / "s.wav"), "--out", str(tmp_path / "o2"), "--quiet"]) == 0
    t1 = pq.read_table(tmp_path / "o1" / "frames.parquet")
    t2 = pq.read_table(tmp_path / "o2" / "frames.parquet")
    for col in t1.column_names:  # assert_array_equal treats NaN == NaN
        np.testing.assert_array_equal(t1.column(col).to_numpy(), t2.column(col).to_numpy())


def test_score_mono_one_speaker(tmp_path):
    a, _, _ = dialogue()
    sf.write(str(tmp_path / "m.wav"), a, 16000)
    assert main(["score", str(tmp_path / "m.wav"), "-o", str(tmp_path / "o"), "--quiet"]) == 0  # -o = --out
    t = pq.read_table(tmp_path / "o" / "frames.parquet")
    assert set(t.column("speaker").to_pylist()) == {"a"}


@pytest.mark.parametrize("args, msg", [
    (["score", "/nonexistent.wav", "--out", "OUT"], "file not found"),
    (["score", "IN", "--out", "OUT", "--speakers", "x,y,z"], "one name per channel"),
    (["score", "IN", "--out", "OUT", "--channels", "a,b"],
     "--channels 'a,b' cannot be parsed: give comma-separated whole numbers"),
    (["score", "IN", "--out", "OUT", "--rttm-out", "DIR"], "--rttm-out DIR: is a folder"),
    (["score", "IN", "--out", "OUT", "--textgrid", "DIR"], "--textgrid DIR: is a folder"),
])
def test_cli_errors_are_one_line_exit_2(args, msg, stereo, tmp_path):
    """Exactly one line on stderr (the progress bar, when stderr is not a terminal, left a blank
    line before it), exit 2, nothing written (--rttm-out naming a folder failed after scoring,
    in the rename, leaving ``.DIR.partial`` behind)."""
    (tmp_path / "d").mkdir()
    sub = {"IN": str(stereo), "OUT": str(tmp_path / "o"), "DIR": str(tmp_path / "d")}
    args = [sub.get(a, a) for a in args]
    p = subprocess.run([sys.executable, "-m", "prosync.cli", *args], capture_output=True, text=True)
    assert p.returncode == 2
    lines = p.stderr.splitlines()
    msg = msg.replace("DIR", sub["DIR"])
    assert len(lines) == 1 and msg in lines[0] and "Traceback" not in p.stderr, p.stderr
    assert not (tmp_path / "o").exists() and sorted(tmp_path.iterdir()) == [tmp_path / "d"]


def test_silent_and_clipped_channels_give_warnings_not_crashes(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = np.zeros((32000, 2), np.float32)
    x[:, 1] = np.clip(rng.normal(0, 1.0, 32000), -1, 1)
    x[:, 1] += 0.0
    sf.write(str(tmp_path / "w.wav"), x, 16000, subtype="FLOAT")
    assert main(["score", str(tmp_path / "w.wav"), "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "channel 1 (speaker a) is digital silence" in err and "channel 2 (speaker b) is clipped" in err
    turns = pq.read_table(tmp_path / "o" / "turns.parquet").to_pylist()
    assert not [t for t in turns if t["kind"] not in ("edge_silence",)]


def test_dc_offset_warns(tmp_path, capsys):
    a, b, _ = dialogue()
    x = np.stack([a + 0.2, b], 1).astype(np.float32)
    sf.write(str(tmp_path / "dc.wav"), x, 16000, subtype="FLOAT")
    assert main(["score", str(tmp_path / "dc.wav"), "--out", str(tmp_path / "o")]) == 0
    assert "DC offset" in capsys.readouterr().err


def test_demo_runs_and_claims_only_what_its_scores_show(tmp_path, capsys):
    import json
    import re

    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "frames.parquet").exists()
    out = " ".join(capsys.readouterr().out.split())
    assert "increasingly" not in out and "in the second r" not in out
    lh = json.loads((tmp_path / "summary.json").read_text())["entrainment"]["levitan_hirschberg"]
    for feat, label in (("f0_mean_hz", "pitch"), ("rate_sps", "speech rate")):
        v = lh["ben_follows_ada"][feat]
        m = re.search(label + r": ben after ada's turn r = ([+-][\d.]+) over (\d+) exchanges, "
                      r"p = ([\d.]+|–) \(([^)]*)\)", out)
        assert m, out
        assert float(m[1]) == round(v["synchrony_r"], 2) and int(m[2]) == v["pairs"]
        if v["synchrony_p"] is None:  # too few exchanges for a calibrated p: says so
            assert m[3] == "–" and m[4] == v["p_note"] and "below the minimum" in m[4]
        else:
            assert float(m[3]) == round(v["synchrony_p"], 2)
            assert m[4].startswith("significant") == (v["synchrony_p"] < 0.05)


def test_library_errors_name_parameters_the_cli_names_flags():
    from prosync.cli import cli_message

    assert cli_message("f.wav: has 6 channels: pick them with channels=, e.g. channels=1,2") == \
        "f.wav: has 6 channels: pick them with --channels, e.g. --channels 1,2"
    assert cli_message("omit profile= to start, or use devices=3") == \
        "omit --profile to start, or use --device 3"
    assert cli_message("sync rate_hz=7 and sample_rate=8") == "sync rate_hz=7 and sample_rate=8"


def test_preset_reaches_the_session(tmp_path):
    """``prosync score --preset research``: the summary names the preset and its windows."""
    import json

    import soundfile as sf

    from prosync.cli import main
    from prosync.commands.offline import DEMO

    x, sr = sf.read(str(DEMO), dtype="float32")
    sf.write(str(tmp_path / "d.wav"), x[: 45 * sr], sr)
    out = tmp_path / "o"
    assert main(["score", str(tmp_path / "d.wav"), "--out", str(out), "--quiet", "--no-report",
                 "--preset", "research"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["settings"]["preset"] == "research" and s["settings"]["sync"]["window_s"] == 30.0


def test_synchrony_table_holds_at_80_columns(monkeypatch, capsys):
    """Every value of the terminal's synchrony table stays on its row at 80 columns (a session
    cell such as '-0.39 @ +1.4' used to wrap onto a second line, feature names were cut)."""
    from types import SimpleNamespace

    from prosync.commands.offline import _print_summary

    monkeypatch.setenv("COLUMNS", "80")
    row = {"windows": 177, "valid_windows": 170, "mean_r_lag0": -0.04, "mean_r_peak": -0.42,
           "mean_peak_lag_s": 0.14, "significant_fraction": 0.0, "session_r": -0.39,
           "session_lag_s": 1.4, "session_p": 0.01}
    summary = {"duration_s": 98.2, "turn_events": {}, "fto_s": {"count": 0, "median": None},
               "speakers": {s: {"speech_fraction": 0.4, "voiced_fraction": 0.3, "f0_median_hz": 200.0,
                                "f0_range_st_5_95": 8.0, "speech_rate_sps": 2.0,
                                "articulation_rate_sps": 4.5, "ipus": 17} for s in ("a", "b")},
               "synchrony": {f: dict(row) for f in ("f0", "energy", "rate", "vad")}}
    _print_summary(SimpleNamespace(summary=summary, files=[], report=None))
    lines = capsys.readouterr().out.splitlines()
    for f in ("f0", "energy", "rate", "vad"):
        hit = [ln for ln in lines if ln.split()[:1] == [f]]
        assert len(hit) == 1 and "-0.39 @ +1.4" in hit[0] and hit[0].rstrip().endswith("0.01"), lines
    # the mean of each window's signed r at its peak |r|: it can be below the mean r at lag 0
    assert any("signed" in ln for ln in lines)
    assert all(len(ln) <= 80 for ln in lines)


def test_identical_channels_warn_with_the_flag_to_use(tmp_path, capsys):
    a, _, _ = dialogue()
    sf.write(str(tmp_path / "dup.wav"), np.stack([a, a], 1), 16000, subtype="PCM_16")
    assert main(["score", str(tmp_path / "dup.wav"), "--out", str(tmp_path / "o"),
                 "--no-report"]) == 0
    err = capsys.readouterr().err
    assert "channels 1 and 2 carry the same audio" in err and "(--channels 1)" in err

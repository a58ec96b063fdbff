"""The live dashboard (prosync/dashboard.py): its layout holds from 80 x 24 up (rendered by rich,
and in a real terminal: ``prosync live`` in tmux on the virtual microphone, read back with
``capture-pane``), and a silent speaker's F0 goes stale instead of staying on screen."""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import prosync
from prosync.dashboard import F0_HOLD_S, Dashboard, sparkline
from tests import virtual_mic
from tests.audio import dialogue

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "prosync" / "data" / "demo_dialogue.flac"
SIZES = [(80, 24), (100, 30), (120, 45), (200, 60)]


def _fed(names=("client", "coach"), silent_b_after_s=None):
    a, b, _ = dialogue()
    if silent_b_after_s is not None:
        b = b.copy()
        b[int(silent_b_after_s * 16000):] = 0.0
    s = prosync.Session(names)
    d = Dashboard(s.speakers, s.lookahead_s, title="prosync live (a long device name, 16000 Hz)")
    for i in range(0, len(a), 1600):
        d.update(s.push(0, a[i:i + 1600]))
        d.update(s.push(1, b[i:i + 1600]))
    d.update(s.close())
    d.stats = {"dropped_s": 0.0, "overflows": 0, "late_hops": 2, "p50_ms": 51.0}
    return d


def _screen(d, width, height) -> list[str]:
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=width, height=height, force_terminal=False).print(d.render())
    return buf.getvalue().rstrip("\n").split("\n")


def _check_layout(lines: list[str], names, width: int, height: int) -> None:
    """One line per item, nothing wrapped or cut with an ellipsis, within the screen."""
    lines = [ln.rstrip() for ln in lines]
    while lines and not lines[-1]:
        lines.pop()
    assert len(lines) <= height - 1, lines
    assert all(len(ln) <= width for ln in lines), [ln for ln in lines if len(ln) > width]
    assert not any("…" in ln for ln in lines), lines
    assert lines[0].startswith("prosync live")
    assert lines[2].startswith(names[0] + " ") and lines[3].startswith(names[1] + " "), lines[:5]
    assert lines[4].startswith("floor transfers:")
    assert lines[5].startswith("synchrony") and lines[7].startswith("f0")
    assert [ln.split()[0] for ln in lines[7:11]] == ["f0", "energy", "rate", "vad"], lines
    assert lines[-1].startswith("dropped"), lines[-1]
    # the speakers' rows: name, level, meter, VAD, F0, sparkline, rate, sparkline
    for row in lines[2:4]:
        assert len(row.split()) == 8, row


@pytest.mark.parametrize("width, height", SIZES)
def test_layout_holds_at_every_size(width, height):
    d = _fed()
    lines = _screen(d, width, height)
    _check_layout(lines, ("client", "coach"), width, height)
    spark = lines[2].split()[5]
    assert len(spark) >= 12 and (width < 120 or len(spark) >= 30)  # wider screens show more


def test_sparkline_marks_missing_values():
    assert sparkline([1, 2, np.nan, 3], 0, 3) == "▃▅·█"
    assert " " not in sparkline([np.nan] * 5)


def test_silent_speaker_f0_goes_stale():
    d = _fed(silent_b_after_s=10.5)  # coach's last turn is cut: silent for the last 1.5 s
    assert np.isfinite(d.sp["coach"].f0) and d.t_s - d.sp["coach"].f0_t > F0_HOLD_S
    assert np.isnan(d.f0_now("coach")) and d.sp["coach"].level < -60
    row = _screen(d, 80, 24)[3]
    assert row.split()[4] == "–", row  # no stale F0 beside a silent speaker


# ------------------------------------------------------------------ in tmux, from the microphone
def _tmux(sock, *args) -> str:
    return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True,
                          check=True).stdout


def test_dashboard_in_tmux_from_the_virtual_microphone(tmp_path):
    why = virtual_mic.unavailable() or (None if shutil.which("tmux") else
                                        "tmux not found: apt-get install tmux")
    if why:
        pytest.skip(f"no terminal test: {why}")
    x, sr = sf.read(str(DEMO), dtype="int16")
    x = x[int(30 * sr):int(46 * sr)].copy()
    x[int(7 * sr):, 1] = 0  # b falls silent after 7 s
    wav = tmp_path / "play.wav"
    sf.write(str(wav), x, sr, subtype="PCM_16")
    sock = f"prosync-test-{os.getpid()}"
    with virtual_mic.VirtualMic(rate=16000) as vm:
        env = {k: os.environ[k] for k in ("PULSE_SERVER", "PULSE_SOURCE", "PULSE_SINK")}
        env["NUMBA_CACHE_DIR"] = os.environ.get("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
        cmd = (" ".join(f"{k}={v}" for k, v in env.items())
               + f" {sys.executable} -m prosync.cli live --device {virtual_mic.DEVICE} --rate 16000"
               + f" 2>{tmp_path / 'err'}; echo $? > {tmp_path / 'rc'}; sleep 60")
        # COLUMNS/LINES fix rich's idea of the screen (the test runner may export them)
        _tmux(sock, "new-session", "-d", "-x", "80", "-y", "24", "-c", str(ROOT),
              "env -u COLUMNS -u LINES " + cmd)
        try:
            end = time.monotonic() + 60
            while "prosync live" not in _tmux(sock, "capture-pane", "-p"):
                assert time.monotonic() < end, _tmux(sock, "capture-pane", "-p")
                time.sleep(0.2)
            play = vm.play(wav)
            time.sleep(13)  # b has been silent for about 6 s
            lines = _tmux(sock, "capture-pane", "-p").split("\n")
            _check_layout(lines, ("a", "b"), 80, 24)
            a_row, b_row = lines[2].split(), lines[3].split()
            assert b_row[4] == "–" and float(b_row[1]) < -60, lines[3]
            assert "·" in a_row[5] or any(c in a_row[5] for c in "▁▂▃▄▅▆▇█")
            _tmux(sock, "resize-window", "-x", "120", "-y", "45")
            end = time.monotonic() + 5  # the next redraw after the resize
            while len((wide := _tmux(sock, "capture-pane", "-p").split("\n"))[2].rstrip()) <= 80:
                if time.monotonic() > end:
                    break
                time.sleep(0.25)
            _check_layout(wide, ("a", "b"), 120, 45)
            assert len(wide[2].split()[5]) > len(a_row[5]), "\n".join(wide)  # grew with the screen
            assert play.wait(30) == 0
            _tmux(sock, "send-keys", "C-c")
            rc = tmp_path / "rc"
            end = time.monotonic() + 30
            while not rc.exists() or not rc.read_text().strip():
                assert time.monotonic() < end, "prosync live did not stop on Ctrl-C"
                time.sleep(0.2)
            assert rc.read_text().strip() in ("0", "130"), (tmp_path / "err").read_text()
        finally:
            subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)


def test_session_test_column_computed_off_the_live_loop():
    """The session test runs in the duplex driver's worker thread on a copy of the series; the
    dashboard reads its rows from the updates, shows r and p beside the windows and says why
    there is none."""
    from prosync.engine.duplex import Duplex

    a, b, _ = dialogue()
    reps = 9  # 108 s: past the test's 96 s
    a, b = np.tile(a, reps), np.tile(b, reps)
    s = prosync.Session(("client", "coach"))
    d = Dashboard(s.speakers, s.lookahead_s)
    dx = Duplex(s, session_test_every_s=50.0)
    seen = []
    for i in range(0, len(a), 16000):
        for upd in (dx.push(0, a[i:i + 16000]), dx.push(1, b[i:i + 16000])):
            d.update(upd)
            if upd.session_sync:
                seen.append((d.t_s, {r.feature: r for r in upd.session_sync}))
    upd = dx.close()  # waits for the running test
    d.update(upd)
    if upd.session_sync:
        seen.append((d.t_s, {r.feature: r for r in upd.session_sync}))
    assert len(seen) == 2 and seen[0][0] < seen[1][0]
    first = seen[0][1]
    assert set(first) == {"f0", "energy", "rate", "vad"}
    assert all("too short" in t.note for t in first.values())  # at 50 s: needs 96 s
    last = seen[1][1]
    assert math.isfinite(last["vad"].p) and last["vad"].t_s >= 96
    assert d.session == last
    lines = [ln.rstrip() for ln in _screen(d, 100, 40)]
    head = [ln for ln in lines if ln.lstrip().startswith("r lag 0")][0]
    assert head.split()[-2:] == ["r", "p"] and "sess" in head
    vad = [ln for ln in lines if ln.startswith("vad ")][0]
    assert f"{last['vad'].p:.2f}" in vad
    if any(t.note for t in last.values()):
        assert any(ln.startswith("session test: ") for ln in lines)

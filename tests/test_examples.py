"""The examples run with one command and do what they say."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "agent_loop.py"


def _load():
    spec = importlib.util.spec_from_file_location("agent_loop", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_agent_loop_runs_with_one_command(tmp_path):
    out = tmp_path / "loop.wav"
    r = subprocess.run([sys.executable, str(EXAMPLE), "--seconds", "20", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "->" in r.stdout and "replies" in r.stdout
    x, sr = sf.read(out)
    assert x.shape == (20 * 16000, 2) and sr == 16000
    assert abs(x[:, 1]).max() > 0.01  # the agent spoke


def test_agent_loop_replies_follow_the_advice_with_tone_speech():
    mod = _load()
    res = mod.run(seconds=30, out=None, tone=True, realtime=False, quiet=True)
    assert len(res["replies"]) >= 2
    for r in res["replies"]:
        # each reply waited for turn_end and the advised delay, and no longer than the later of
        # the two (within one 20 ms tick of the loop and a 10 ms frame)
        assert 150 <= r["delay_ms"] <= 1500
        assert r["waited_ms"] >= max(r["turn_end_ms"], r["delay_ms"]) - 1e-6
        assert r["waited_ms"] <= max(r["turn_end_ms"], r["delay_ms"]) + 30
    # the reference the replies aim at: the user's gaps to their real partner in the recording
    assert 100 < res["recorded_gap_ms"] < 1500
    s = res["summary"]
    assert s["speakers"]["agent"]["ipus"] >= 2
    assert s["fto_s"]["count"] >= 2

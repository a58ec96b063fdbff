"""The live door: ring buffer, device errors, dashboard, and end-to-end through a virtual microphone.

The end-to-end tests play a known stereo recording in real time into a PulseAudio null sink
(tests/virtual_mic.py) and capture it with ``prosync live``; they skip with the reason where
PulseAudio, its ALSA plugin or PortAudio is missing (CI installs them: see README, Development).
"""

from __future__ import annotations

import builtins
import io
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

import prosync
from prosync.cli import main
from prosync.streams.journal import read_table
from prosync.streams.mic import STAMPS, _Ring
from tests import virtual_mic
from tests.audio import dialogue

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "prosync" / "data" / "demo_dialogue.flac"
PROSYNC = [sys.executable, "-m", "prosync.cli"]
#: The excerpt of the demo dialogue played through the virtual microphone (s).
EXCERPT = (30.0, 55.0)


# ------------------------------------------------------------------ no sound system needed
def test_ring_wraps_and_substitutes_silence_for_dropped_blocks():
    r = _Ring(cap=10, nch=2)
    blk = np.arange(8, dtype=np.int16).reshape(4, 2)
    assert r.put(blk, 1, 0) and r.put(blk + 100, 2, 0)
    assert not r.put(blk + 200, 3, 0)          # 12 > 10: dropped, counted
    assert r.lost == 4
    out = r.take()
    np.testing.assert_array_equal(out[:4], blk)
    np.testing.assert_array_equal(out[4:8], blk + 100)
    np.testing.assert_array_equal(out[8:], 0)  # silence where the block was dropped
    assert len(out) == 12
    assert r.put(blk + 300, 4, 0)              # wraps around the end of the buffer
    np.testing.assert_array_equal(r.take(), blk + 300)
    assert r.take().shape == (0, 2)
    # arrival stamps: timeline position after each block (dropped blocks included)
    assert list(r.st_end[:4]) == [4, 8, 12, 16]


def test_arrival_lookup_finds_the_block_of_a_sample():
    from prosync.streams.mic import MicSource

    src = MicSource.__new__(MicSource)
    ring = _Ring(cap=1000, nch=1)
    for i in range(STAMPS + 50):               # more blocks than stamps kept
        ring.put(np.zeros((10, 1), np.int16), 1000 + i, 0)
        ring.take()

    class Cap:
        speakers = [0]

    Cap.ring = ring
    src.captures = [Cap]
    assert src.arrival_ns(0, (STAMPS + 49) * 10 + 3) == 1000 + STAMPS + 49
    assert src.arrival_ns(0, (STAMPS + 10) * 10) == 1000 + STAMPS + 10
    assert src.arrival_ns(0, (STAMPS + 50) * 10) == 0     # not arrived yet


def test_missing_portaudio_is_one_line(monkeypatch, capsys):
    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real(name, *a, **k)

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake)
    assert main(["devices"]) == 2
    assert main(["live", "--device", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("apt-get install libportaudio2" in e for e in err)


def test_sounddevice_is_imported_only_on_the_live_path():
    code = ("import sys; from prosync.cli import _parser; _parser().parse_args(['score', 'x', "
            "'--out', 'o']); import prosync.commands.live; "
            "assert 'sounddevice' not in sys.modules, 'imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_dashboard_renders_a_session():
    from rich.console import Console

    from prosync.dashboard import Dashboard, sparkline

    a, b, _ = dialogue()
    s = prosync.Session(("client", "coach"))
    d = Dashboard(s.speakers, s.lookahead_s)
    for i in range(0, len(a), 1600):
        d.update(s.push(0, a[i:i + 1600]))
        d.update(s.push(1, b[i:i + 1600]))
    d.update(s.close())
    d.stats = {"dropped_s": 0.0, "overflows": 0, "late_hops": 2, "p50_ms": 51.0}
    buf = io.StringIO()
    Console(file=buf, width=120, force_terminal=False).print(d.render())
    text = buf.getvalue()
    for want in ("client", "coach", "synchrony", "late hops 2", "pacing for coach", "→"):
        assert want in text, want
    assert sparkline([1, 2, np.nan, 3], 0, 3) == "▃▅·█"


# ------------------------------------------------------------------ through a virtual microphone
@pytest.fixture(scope="module")
def vmic():
    why = virtual_mic.unavailable()
    if why:
        pytest.skip(f"no virtual microphone: {why}")
    with virtual_mic.VirtualMic(rate=16000) as vm:
        yield vm


@pytest.fixture(scope="module")
def excerpt(tmp_path_factory):
    x, sr = sf.read(str(DEMO), dtype="int16")
    p = tmp_path_factory.mktemp("x") / "excerpt.wav"
    sf.write(str(p), x[int(EXCERPT[0] * sr):int(EXCERPT[1] * sr)], sr, subtype="PCM_16")
    return p


class _Live:
    """``prosync live`` in a child process; its stdout is drained by a thread (a full pipe would
    stall the metric loop, as it would for any slow consumer)."""

    def __init__(self, *args):
        self.p = subprocess.Popen([*PROSYNC, "live", "--device", virtual_mic.DEVICE, *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.lines: list[str] = []
        self.first = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for ln in self.p.stdout:
            self.lines.append(ln)
            self.first.set()
        self.first.set()

    def wait_first_line(self, timeout=30):
        """Block until the first metric line (capture is running)."""
        if not self.first.wait(timeout) or not self.lines:
            raise AssertionError(f"prosync live printed nothing: {self.p.stderr.read()}")

    def finish(self, sig=None, timeout=60):
        if sig is not None:
            self.p.send_signal(sig)
        err = self.p.stderr.read()
        self.p.wait(timeout)
        return self.p.returncode, err


def _parse(lines):
    frames = {"a": [], "b": []}
    turns = []
    kinds = set()
    for ln in lines:
        r = json.loads(ln)
        kinds.add(r["type"])
        if r["type"] == "frame":
            frames[r["speaker"]].append(r)
        elif r["type"] == "turn":
            turns.append(r)
    out = {}
    for s, rows in frames.items():
        out[s] = {k: np.array([np.nan if r[k] is None else r[k] for r in rows], dtype=float)
                  for k in ("t_s", "f0_hz", "energy_db", "voiced", "speech")}
    return out, turns, kinds


def align_by_energy(live_e: np.ndarray, ref_e: np.ndarray) -> tuple[int, float]:
    """Frame offset of ``ref`` inside ``live`` maximising the correlation of the energy contours
    (both speakers, clipped at -60 dBFS); returns (integer lag, refined lag in frames)."""
    a = np.clip(live_e, -60, None)
    b = np.clip(ref_e, -60, None)
    a = a - a.mean(0)
    b = b - b.mean(0)
    n = a.shape[0] - b.shape[0] + 1
    c = np.array([np.sum(a[k:k + b.shape[0]] * b) for k in range(max(n, 1))])
    k = int(np.argmax(c))
    frac = 0.0
    if 0 < k < len(c) - 1:
        y0, y1, y2 = c[k - 1], c[k], c[k + 1]
        den = y0 - 2 * y1 + y2
        frac = 0.5 * (y0 - y2) / den if den else 0.0
    return k, k + frac


def _match_events(ref, live, shift_s, tol=0.050):
    """For each reference event, is there a live one of the same kind and speakers within tol?"""
    hits, errs = 0, []
    for e in ref:
        cands = [x for x in live if x["kind"] == e["kind"] and x["speaker"] == e["speaker"]]
        if not cands:
            continue
        d = min(max(abs(x["start_s"] - shift_s - e["start_s"]), abs(x["end_s"] - shift_s - e["end_s"]))
                for x in cands)
        errs.append(d)
        hits += d <= tol
    return hits, errs


@pytest.fixture(scope="module")
def live_run(vmic, excerpt, tmp_path_factory):
    """``prosync live --jsonl - --record DIR`` while the excerpt plays; stopped with Ctrl-C."""
    rec = tmp_path_factory.mktemp("live") / "rec"
    lv = _Live("--rate", "16000", "--jsonl", "-", "--record", str(rec))
    lv.wait_first_line()
    time.sleep(0.3)
    play = vmic.play(excerpt)
    assert play.wait(60) == 0, play.stderr.read()
    time.sleep(0.6)
    rc, err = lv.finish(signal.SIGINT)
    time.sleep(0.1)
    return rc, list(lv.lines), err, rec


def refine_offset(live_e: np.ndarray, x: np.ndarray, k: int) -> int:
    """Sample offset ``o`` (live sample = file sample + o) near the frame lag ``k``: the file's
    25 ms energy at every candidate centre against the live ``energy_db`` (mean |difference|)."""
    c2 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x.astype(np.float64) ** 2, 0)])
    best, arg = np.inf, k * 160
    nk = live_e.shape[0]
    for o in range(k * 160 - 200, k * 160 + 201):
        c = np.arange(nk) * 160 + 80 - o               # file sample under each live frame centre
        ok = (c - 200 >= 0) & (c + 200 <= x.shape[0])
        e = (c2[c[ok] + 200] - c2[c[ok] - 200]) / 400
        ref = np.clip(10 * np.log10(e + 1e-12), -60, None)
        liv = np.clip(live_e[ok], -60, None)
        r = np.mean(np.abs(ref - liv))      # the same samples: exact at the true offset
        if r < best:
            best, arg = r, o
    return arg


def test_live_matches_score_of_the_played_file(live_run, excerpt, tmp_path):
    """Acceptance: voiced frames, F0 within 1 %, turn events within 50 ms of ``prosync score``.

    The capture starts at an unknown offset: the energy contours give it to a frame, then to a
    sample; the file is scored with the whole offset prepended as silence, so that its 10 ms
    frames fall on the live frames' times and its adaptive state (noise floor, speech level) has
    heard the same silence before the speech as the live stream."""
    rc, lines, err, _ = live_run
    assert rc == 0, err
    live, live_turns, kinds = _parse(lines)
    assert {"frame", "turn", "pacing"} <= kinds
    x, sr = sf.read(str(excerpt), dtype="float32")
    le = np.stack([live["a"]["energy_db"], live["b"]["energy_db"]], 1)
    k0, _ = align_by_energy(le, _energy_db(x))
    o = refine_offset(le, x, k0)
    sf.write(str(tmp_path / "shifted.wav"), np.concatenate([np.zeros((o, 2), np.float32), x]), sr,
             subtype="FLOAT")
    assert main(["score", str(tmp_path / "shifted.wav"), "--out", str(tmp_path / "ref"), "--quiet"]) == 0
    fr = pq.read_table(tmp_path / "ref" / "frames.parquet").to_pydict()
    ref = {s: {k: np.array([np.nan if v is None else v for v, sp in zip(fr[k], fr["speaker"]) if sp == s],
                           dtype=float) for k in ("t_s", "f0_hz", "energy_db", "voiced", "speech")}
           for s in ("a", "b")}
    ref_turns = pq.read_table(tmp_path / "ref" / "turns.parquet").to_pylist()
    k = 0                                               # live frame j  <->  shifted-file frame j
    shift = 0.0
    n = min(len(ref["a"]["t_s"]), len(live["a"]["t_s"]))
    checks = []
    rep = [f"capture offset {o / 16:.2f} ms ({o} samples; energy contours alone: {k0} frames)"]
    for s in ("a", "b"):
        lv = {c: v[k:k + n] for c, v in live[s].items()}
        rv = {c: v[:n] for c, v in ref[s].items()}
        agree = np.mean(lv["voiced"] == rv["voiced"])
        nv_l, nv_r = int(np.sum(lv["voiced"])), int(np.sum(rv["voiced"]))
        both = (lv["voiced"] > 0) & (rv["voiced"] > 0)
        rel = np.abs(lv["f0_hz"][both] / rv["f0_hz"][both] - 1)
        within = float(np.mean(rel <= 0.01))
        rep.append(f"{s}: voiced frames live {nv_l} / score {nv_r}, decisions agree {agree:.4f}; "
                   f"F0 within 1 % on {within:.4f} of {both.sum()} frames voiced in both, "
                   f"max |dF0| {rel.max() * 100:.2f} %")
        checks += [abs(nv_l - nv_r) <= 0.02 * nv_r, agree >= 0.98, within >= 0.99]
    # turn events (the excerpt's edges excluded: the live stream has silence around it)
    kinds_cmp = ("ipu", "pause", "gap", "overlap_between", "overlap_within")
    t0, t1 = o / sr, (o + len(x)) / sr                  # the excerpt in the shifted file
    ref_ev = [e for e in ref_turns
              if e["kind"] in kinds_cmp and e["start_s"] > t0 + 0.5 and e["end_s"] < t1 - 0.5]
    hits, errs = _match_events(ref_ev, live_turns, shift)
    rep.append(f"turn events: {hits} of {len(ref_ev)} within 50 ms "
               f"(max error {max(errs) * 1000:.0f} ms)" if errs else "no events")
    print("\n" + "\n".join(rep))
    assert all(checks), rep
    assert len(ref_ev) >= 10
    assert hits == len(ref_ev)


def _energy_db(x):
    """25 ms energy (dB) at each 10 ms frame centre of a (n, 2) float signal."""
    c2 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x.astype(np.float64) ** 2, 0)])
    c = np.arange(x.shape[0] // 160) * 160 + 80
    lo, hi = np.clip(c - 200, 0, None), np.clip(c + 200, None, x.shape[0])
    return 10 * np.log10((c2[hi] - c2[lo]) / 400 + 1e-12)


def test_ctrl_c_finalises_and_score_of_the_recording_equals_the_stream(live_run, tmp_path):
    rc, lines, err, rec = live_run
    assert rc == 0, err
    names = sorted(p.name for p in rec.iterdir())
    assert names == ["audio.flac", "end_of_turn.parquet", "frames.parquet", "pacing.parquet",
                     "report.html", "series.parquet", "summary.json", "synchrony.parquet",
                     "turn_end.parquet", "turns.parquet"]
    summ = json.loads((rec / "summary.json").read_text())
    assert summ["live"]["dropped_s"] == 0
    assert main(["score", str(rec / "audio.flac"), "--out", str(tmp_path / "s"), "--quiet"]) == 0
    # --record writes the folder of `prosync score` (report and warnings included), plus the audio
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [n for n in names
                                                                   if n != "audio.flac"]
    offline = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert set(offline) <= set(summ) and isinstance(summ["warnings"], list)
    assert [(i["path"], i["channel"]) for i in summ["inputs"]] == [
        (i["path"], i["channel"]) for i in offline["inputs"]]
    assert "<img" in (rec / "report.html").read_text()
    live, _, _ = _parse(lines)
    off = pq.read_table(tmp_path / "s" / "frames.parquet")
    for s in ("a", "b"):
        o = {k: np.array([np.nan if v is None else v for v, sp in
                          zip(off.column(k).to_pylist(), off.column("speaker").to_pylist()) if sp == s],
                         dtype=float) for k in ("t_s", "f0_hz", "voiced", "speech")}
        m = min(len(o["t_s"]), len(live[s]["t_s"]))
        assert m > 100 * 20
        for c in ("t_s", "f0_hz", "voiced", "speech"):   # the same samples: identical metrics
            np.testing.assert_array_equal(live[s][c][:m], o[c][:m], err_msg=c)
    # the recorded metrics are the streamed ones
    rf = pq.read_table(rec / "frames.parquet")
    assert rf.num_rows == sum(len(live[s]["t_s"]) for s in ("a", "b"))


def test_sigkill_during_recording_leaves_readable_files(vmic, excerpt, tmp_path):
    rec = tmp_path / "rec"
    lv = _Live("--rate", "44100", "--jsonl", "-", "--record", str(rec), "--segment-s", "1.5")
    lv.wait_first_line()
    play = vmic.play(excerpt)
    time.sleep(4.5)
    lv.finish(signal.SIGKILL)
    play.terminate()
    play.wait(10)
    x, sr = sf.read(str(rec / "audio.flac"), dtype="int16")
    assert sr == 44100 and x.shape[1] == 2 and len(x) > 3 * sr
    segs = sorted((rec / "metrics").glob("frames-*.parquet"))
    assert len(segs) >= 2
    for sp in segs:
        pq.read_table(sp)
    fr = read_table(rec, "frames")
    t = np.unique(fr.column("t_s").to_numpy())
    np.testing.assert_allclose(np.diff(t), 0.01, atol=1e-9)
    # at most one journal batch (0.25 s) plus the look-ahead and the last block lost
    assert t[-1] > len(x) / sr - 0.5
    assert main(["recover", str(rec)]) == 0
    assert pq.read_table(rec / "frames.parquet").num_rows == fr.num_rows


def test_device_that_disappears_exits_nonzero_with_recording_finalised(tmp_path):
    why = virtual_mic.unavailable()
    if why:
        pytest.skip(f"no virtual microphone: {why}")
    rec = tmp_path / "rec"
    with virtual_mic.VirtualMic(rate=16000) as vm:
        lv = _Live("--rate", "16000", "--jsonl", "-", "--record", str(rec))
        lv.wait_first_line()
        time.sleep(1.0)
        vm.kill_daemon()
        rc, err = lv.finish(timeout=30)
    assert rc == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("prosync: error: input device 'pulse'") and "finalised" in last, err
    assert "Traceback" not in err
    assert (rec / "frames.parquet").exists() and (rec / "summary.json").exists()
    assert sf.info(str(rec / "audio.flac")).frames > 16000 // 2


def test_devices_lists_the_virtual_microphone(vmic, capsys):
    assert main(["devices"]) == 0
    assert "pulse" in capsys.readouterr().out


def test_bad_device_and_channel_are_user_errors(vmic, capsys):
    assert main(["live", "--device", "no-such-mic"]) == 2
    assert main(["live", "--device", "pulse", "--channels", "1,99"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "no input device matches 'no-such-mic'" in err[0]
    assert "channel 99 does not exist" in err[1]

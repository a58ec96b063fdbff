"""Tests of calibration/baseline.py and native/baseline.py: incremental quantiles against plain
numpy, warm-up flags, profiles (round trip, damaged files), and a returning speaker."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from prosync import Session
from prosync.calibration.baseline import (
    MIN_FTO,
    MIN_SPEECH,
    MIN_VOICED,
    SpeakerBaseline,
    load_profile,
)
from prosync.engine.errors import ProsyncError
from prosync.engine.speaker import FRAME_DTYPE
from prosync.streams.profile import save_profile


def _frames(rng, n, f0=150.0, level=-25.0):
    fr = np.zeros(n, FRAME_DTYPE)
    fr["t_s"] = (np.arange(n) + 0.5) * 0.01
    fr["speech"] = rng.random(n) < 0.8
    fr["voiced"] = fr["speech"] & (rng.random(n) < 0.8)
    fr["f0_hz"] = np.where(fr["voiced"], f0 * 2 ** (rng.normal(0, 2, n) / 12), np.nan)
    fr["energy_db"] = np.where(fr["speech"], rng.normal(level, 4, n), rng.normal(-70, 3, n))
    fr["rate_sps"] = np.abs(rng.normal(4, 1, n))
    return fr


def _same(s1, s2) -> bool:
    """Snapshots equal, NaN == NaN."""
    return all(a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))
               for a, b in zip(dataclasses.astuple(s1), dataclasses.astuple(s2)))


def _ref_quantile(values, edges_lo, width, nbins, q):
    """numpy reference: histogram of truncated bins, first bin whose cumsum reaches q * total."""
    idx = np.clip(np.trunc((np.asarray(values, np.float64) - edges_lo) / width).astype(np.int64),
                  0, nbins - 1)
    h = np.bincount(idx, minlength=nbins)
    if h.sum() == 0:
        return math.nan
    return edges_lo + (int(np.searchsorted(np.cumsum(h), q * h.sum())) + 0.5) * width


def test_incremental_quantiles_match_numpy_after_every_bin():
    rng = np.random.default_rng(0)
    fr = _frames(rng, 4000)
    # a second regime: the quantiles must move down and up
    fr["f0_hz"][2000:] *= 1.6
    fr["energy_db"][2500:] -= 12
    b = SpeakerBaseline()
    out = np.empty((400, 6))
    b.add_bins(fr, 10, out)
    for i in range(0, 400, 7):
        sub = fr[:(i + 1) * 10]
        v = sub["voiced"] & (sub["f0_hz"] > 0)
        st = 12.0 * np.log2(sub["f0_hz"][v].astype(np.float64))
        sp = sub["speech"]
        want = [
            _ref_quantile(st, 0.0, 0.1, 1200, 0.5),
            _ref_quantile(sub["energy_db"][sp], -120.0, 0.5, 260, 0.5),
            _ref_quantile(st, 0.0, 0.1, 1200, 0.95) - _ref_quantile(st, 0.0, 0.1, 1200, 0.05),
            _ref_quantile(sub["rate_sps"][sp], 0.0, 0.05, 200, 0.5),
            v.sum(), sp.sum(),
        ]
        np.testing.assert_allclose(out[i], want, rtol=0, atol=1e-9, err_msg=f"bin {i}")
    snap = b.snapshot()
    assert snap.noise_floor_db == pytest.approx(
        _ref_quantile(fr["energy_db"][~fr["speech"]], -120.0, 0.5, 260, 0.1))
    assert snap.f0_median_hz == pytest.approx(2 ** (snap.f0_median_st / 12))


def test_add_frames_equals_add_bins_and_is_split_invariant():
    rng = np.random.default_rng(1)
    fr = _frames(rng, 1234)
    a, b = SpeakerBaseline(), SpeakerBaseline()
    a.add_frames(fr)
    for i in range(0, 1234, 37):
        b.add_frames(fr[i:i + 37])
    assert _same(a.snapshot(), b.snapshot())
    assert np.array_equal(a.f0, b.f0) and np.array_equal(a.level, b.level)


def test_empty_baseline_is_nan_and_warming_up():
    s = SpeakerBaseline().snapshot()
    assert s.warming_up
    assert all(math.isnan(v) for v in (s.f0_median_st, s.speech_level_db, s.f0_range_st,
                                       s.rate_sps, s.noise_floor_db, s.fto_median_s))


def test_warm_up_flags_settle_at_the_stated_counts():
    b = SpeakerBaseline()
    fr = np.zeros(10, FRAME_DTYPE)
    fr["voiced"] = fr["speech"] = True
    fr["f0_hz"] = 120.0
    fr["energy_db"] = -20.0
    fr["rate_sps"] = 4.0
    n = 0
    while b.warming_up:
        b.add_frames(fr)
        n += 10
        assert n <= max(MIN_VOICED, MIN_SPEECH)
    assert n == max(MIN_VOICED, MIN_SPEECH)
    assert not b.snapshot().warming_up
    assert b.snapshot().f0_median_hz == pytest.approx(120.0, rel=0.006)  # 0.1 st bins
    # unvoiced speech only: the F0 part stays unsettled
    c = SpeakerBaseline()
    fr["voiced"] = False
    for _ in range(MIN_SPEECH // 10):
        c.add_frames(fr)
    assert c.warming_up and c.n_speech == MIN_SPEECH and c.n_voiced == 0


def test_fto_median():
    b = SpeakerBaseline()
    for v in (0.2, 0.3, 0.25, float("nan"), 1.0):
        b.add_fto(v)
    assert b.n_fto == 4
    assert b.fto_median_s == pytest.approx(0.275, abs=0.05)
    assert b.snapshot().fto_median_s == b.fto_median_s
    assert MIN_FTO >= 1


def test_profile_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    a, b = SpeakerBaseline(), SpeakerBaseline()
    a.add_frames(_frames(rng, 900, f0=210))
    b.add_frames(_frames(rng, 700, f0=110))
    a.add_fto(0.3)
    p = save_profile(tmp_path / "client.json", {"client": a, "therapist": b})
    assert p.exists() and not list(tmp_path.glob(".*partial"))
    got = load_profile(p)
    assert set(got) == {"client", "therapist"}
    for name, orig in (("client", a), ("therapist", b)):
        assert _same(got[name].snapshot(), orig.snapshot())
        assert got[name].to_dict() == orig.to_dict()
    # adding more after loading goes on exactly as without the round trip
    more = _frames(rng, 300, f0=230)
    a.add_frames(more)
    got["client"].add_frames(more)
    assert _same(got["client"].snapshot(), a.snapshot())


@pytest.mark.parametrize("content, match", [
    (b"{not json", "not a prosync profile"),
    (b"\xff\xfe\x00", "not a prosync profile"),
    (b'{"prosync_profile": 99, "speakers": {}}', "version 99"),
    (b'[1, 2]', "version None"),
    (b'{"prosync_profile": 1, "speakers": {"a": {"f0": [1, 2]}}}', "damaged profile"),
    (b'{"prosync_profile": 1, "speakers": []}', "damaged profile"),
    (b'{"prosync_profile": 1}', "damaged profile"),
])
def test_corrupt_profile_is_one_line_error(tmp_path, content, match):
    p = tmp_path / "bad.json"
    p.write_bytes(content)
    with pytest.raises(ProsyncError, match=match) as exc:
        load_profile(p)
    assert "\n" not in str(exc.value) and str(p) in str(exc.value)


def test_negative_counts_rejected(tmp_path):
    a = SpeakerBaseline()
    d = a.to_dict()
    d["level"][3] = -1
    p = tmp_path / "neg.json"
    p.write_text(json.dumps({"prosync_profile": 1, "speakers": {"a": d}}))
    with pytest.raises(ProsyncError, match="damaged"):
        load_profile(p)


def test_missing_profile(tmp_path):
    with pytest.raises(ProsyncError, match="not found"):
        load_profile(tmp_path / "nope.json")


def _settled():
    b = SpeakerBaseline()
    rng = np.random.default_rng(5)
    while b.warming_up:
        b.add_frames(_frames(rng, 500))
    for v in (0.2, 0.25, 0.3):
        b.add_fto(v)
    return b


def test_returning_speaker_starts_calibrated(tmp_path):
    """A loaded profile: warming_up is False from the very first pacing row."""
    p = save_profile(tmp_path / "p.json", {"user": _settled(), "agent": _settled()})
    prof = load_profile(p)
    s = Session(("user", "agent"), sample_rate=16000, profile=prof)
    assert not s.baselines["user"].warming_up and not s.baselines["agent"].warming_up
    x = np.zeros(16000, np.float32)
    rows = s.push("user", x).pacing + s.push("agent", x).pacing + s.close().pacing
    assert rows and not rows[0].warming_up
    assert rows[0].conf_reply_delay == 1.0
    # without the profile the same session is warming up
    s2 = Session(("user", "agent"), sample_rate=16000)
    rows2 = s2.push("user", x).pacing + s2.push("agent", x).pacing + s2.close().pacing
    assert rows2[0].warming_up


def test_score_profile_round_trip_returning_speaker_starts_calibrated(tmp_path):
    """``prosync score --profile``: written at the end, loaded by the next session."""
    import json

    import numpy as np
    import pyarrow.parquet as pq
    import soundfile as sf

    from prosync.cli import main
    from tests.audio import dialogue

    a, b, _ = dialogue()
    wav = tmp_path / "s.wav"
    sf.write(str(wav), np.tile(np.stack([a, b], 1), (2, 1)), 16000)  # 24 s: baselines settle
    prof = tmp_path / "clients.json"
    args = ["score", str(wav), "--speakers", "client,coach", "--profile", str(prof), "--quiet",
            "--no-report"]
    assert main([*args, "--out", str(tmp_path / "o1")]) == 0
    doc = json.loads(prof.read_text())
    assert set(doc["speakers"]) == {"client", "coach"}
    first = pq.read_table(tmp_path / "o1" / "pacing.parquet").column("warming_up").to_pylist()
    assert first[0] is True
    assert main([*args, "--out", str(tmp_path / "o2")]) == 0
    second = pq.read_table(tmp_path / "o2" / "pacing.parquet").column("warming_up").to_pylist()
    assert second[0] is False  # the returning speakers start calibrated


def test_bad_profile_is_one_clear_error(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "p.json"
    bad.write_text("{not json")
    wav = tmp_path / "x.wav"
    import numpy as np
    import soundfile as sf

    sf.write(str(wav), np.zeros((16000, 2), np.float32), 16000)
    r = subprocess.run([sys.executable, "-m", "prosync.cli", "score", str(wav), "--out",
                        str(tmp_path / "o"), "--profile", str(bad)], capture_output=True, text=True)
    assert r.returncode == 2 and "not a prosync profile" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1

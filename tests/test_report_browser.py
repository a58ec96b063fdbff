"""``report.html`` in a real browser (headless Chromium through the DevTools protocol): a short
(20 s), a silent-speaker and a long (6 min) session. No console errors, every image decodes, and
every panel drew data where the session has that data (the counts each ``<img>`` carries in
``data-drawn``). Screenshots go to ``$PROSYNC_SCREENSHOTS`` when set, to look at."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from prosync.score import score
from tests.browser import CHROMIUM, open_page

DEMO = Path(__file__).resolve().parents[1] / "prosync" / "data" / "demo_dialogue.flac"
NAMES = ("ada", "ben")
FEATURES = ("f0", "energy", "rate", "vad")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is absent: ./run test installs it (apt-get install chromium)")


def _session(tmp_path_factory, kind: str):
    x, sr = sf.read(str(DEMO), dtype="float32")
    if kind == "short":
        x = x[: 20 * sr]
    elif kind == "silent":  # ben's microphone muted: hiss at -71 dBFS, as CANDOR hold.wav
        x = x[: 20 * sr].copy()
        x[:, 1] = np.random.default_rng(0).uniform(-2.8e-4, 2.8e-4, len(x))
    else:  # long: 6 minutes, so the report bins both the contours and the heat maps
        x = np.concatenate([x] * 4)[: 360 * sr]
    d = tmp_path_factory.mktemp(kind)
    sf.write(str(d / f"{kind}.wav"), x, sr)
    return score([d / f"{kind}.wav"], d / "out", speakers=list(NAMES))


async def _inspect(page, name):
    shots = os.environ.get("PROSYNC_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        await page.screenshot(Path(shots) / f"report_{name}.png")
    images = await page.evaluate("""Promise.all([...document.images].map(img =>
        img.decode().then(() => true, () => false).then(ok => ({
            alt: img.alt, ok: ok && img.complete && img.naturalWidth > 0,
            width: img.naturalWidth, height: img.naturalHeight,
            drawn: JSON.parse(img.dataset.drawn || "null")}))))""")
    text = await page.evaluate("document.body.innerText")
    return images, text, list(page.errors)


def _load(res, name):
    images, text, errors = open_page(res.report.resolve().as_uri(), lambda p: _inspect(p, name))
    assert errors == [], errors
    assert len(images) == 4 and all(i["ok"] and i["width"] > 300 for i in images), images
    drawn = {i["alt"]: i["drawn"] for i in images}
    assert all(v is not None for v in drawn.values()), drawn
    return drawn, text


def _speech_frames(out: Path, name: str) -> int:
    """Speech frames the energy contour draws: over the VAD's absolute floor (not the hangover
    into digital silence, whose share grows with ``vad.hangover_s``)."""
    from prosync.native.vad import ABS_FLOOR_DB

    t = pq.read_table(out / "frames.parquet", columns=["speaker", "speech", "energy_db"]).to_pylist()
    return sum(1 for r in t if r["speaker"] == name and r["speech"]
               and r["energy_db"] is not None and r["energy_db"] > ABS_FLOOR_DB)


def _check_full(res, drawn, per_bin: int):
    pe = drawn["Pitch and energy"]
    for n in NAMES:
        assert pe[f"f0-{n}"] > 100
        # energy: one bin per 10 ms frame (or per_bin frames): a bin finer than the hop left
        # every other bin empty
        speech = _speech_frames(res.out_dir, n)
        assert pe[f"energy-{n}"] >= 0.9 * speech / per_bin, (pe, speech)
        assert drawn["Turn timeline"][f"ipu-{n}"] > 0
    assert all(drawn["Synchrony: lag × time"][f] > 0 for f in FEATURES)
    assert drawn["Floor-transfer offsets"]["fto"] > 0


@pytest.mark.slow
def test_short_session_report_in_chromium(tmp_path_factory):
    res = _session(tmp_path_factory, "short")
    drawn, text = _load(res, "short")
    _check_full(res, drawn, per_bin=1)
    assert "20.0 s scored" in text


@pytest.mark.slow
def test_silent_speaker_report_in_chromium(tmp_path_factory):
    res = _session(tmp_path_factory, "silent")
    drawn, text = _load(res, "silent")
    pe = drawn["Pitch and energy"]
    assert pe["f0-ada"] > 100 and pe["energy-ada"] > 100 and drawn["Turn timeline"]["ipu-ada"] > 0
    assert pe["energy-ben"] == 0 and drawn["Turn timeline"]["ipu-ben"] == 0
    assert all(drawn["Synchrony: lag × time"][f] == 0 for f in FEATURES)
    assert re.search(r"ben\) is near-silent \(peak -7\d dBFS, 0% speech\)", text), text[:600]
    assert "no synchrony for f0, energy, rate, vad: a silent speaker: no speech found for ben" in text
    s = json.loads((res.out_dir / "summary.json").read_text())
    assert all(v["mean_r_lag0"] is None for v in s["synchrony"].values())


@pytest.mark.slow
def test_long_session_report_in_chromium(tmp_path_factory):
    res = _session(tmp_path_factory, "long")
    drawn, _ = _load(res, "long")
    _check_full(res, drawn, per_bin=6)  # 36,000 frames in 6,000 bins

import shutil
import subprocess

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from prosync.engine.config import Config
from prosync.report import lag_matrices
from prosync.score import score

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    d = tmp_path_factory.mktemp("rep")
    x, sr = sf.read("prosync/data/demo_dialogue.flac", dtype="float32", frames=16000 * 45)
    sf.write(str(d / "demo.wav"), x, sr)
    res = score([d / "demo.wav"], d / "out", speakers=["ada", "ben"])
    return res


def test_report_is_self_contained(scored):
    page = scored.report.read_text()
    assert page.count("data:image/png;base64,") == 4
    assert "src='http" not in page and "<script" not in page
    assert "Floor-transfer offsets" in page and "Synchrony" in page


def test_heatmap_matrix_equals_streaming_synchrony(scored):
    """The report's lag x time matrix (batch WCC on series.parquet) is the live one."""
    mats = lag_matrices(scored.out_dir, ("ada", "ben"), Config().sync)
    sync = pq.read_table(scored.out_dir / "synchrony.parquet").to_pylist()
    r = mats["energy"]
    lag0 = r.matrix[:, r.lag_samples]
    by_start = {round(s, 3): v for s, v in zip(r.window_start_s, lag0)}
    rows = [s for s in sync if s["feature"] == "energy"]
    assert len(rows) == len(r.window_start_s)
    for s in rows:
        v = by_start[round(s["window_start_s"], 3)]
        if s["r_lag0"] is None:  # missing: null in the file, NaN in the batch matrix
            assert not np.isfinite(v)
        else:
            assert v == pytest.approx(s["r_lag0"], abs=1e-6)


def test_report_renders_in_headless_chromium(scored, tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is absent: apt-get install -y chromium (CI setup) to run this test")
    png = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", f"--user-data-dir={tmp_path / 'prof'}", f"--screenshot={png}",
                    "--window-size=1200,2000", scored.report.resolve().as_uri()],
                   capture_output=True, timeout=120)
    assert png.exists(), "chromium wrote no screenshot"
    from PIL import Image

    img = np.asarray(Image.open(png).convert("L"), dtype=float)
    assert img.shape[0] >= 1000 and img.std() > 10  # not blank
    assert (img < 128).mean() > 0.01  # ink: text and figures


import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from prosync.engine.config import Config
from prosync.report import lag_matrices
from prosync.score import score


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




def test_f0_ticks_are_plain_hz():
    from prosync.report import _f0_ticks, _figure

    fig = _figure(4, 3)
    ax = fig.subplots()
    f0 = np.array([90.0, 180.0, 420.0])
    ax.plot([0, 1, 2], f0)
    _f0_ticks(ax, f0)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all(lb.isdigit() for lb in labels), labels  # 100, 200, 400: no 10^2
    assert "100" in labels and "400" in labels


def test_heatmap_missing_windows_grey_on_session_time():
    import base64
    import io
    from types import SimpleNamespace

    from PIL import Image

    from prosync.report import MISSING, heatmap_figure

    m = np.zeros((40, 41))
    m[10:20] = np.nan  # ten windows without a correlation
    r = SimpleNamespace(matrix=m, step_samples=5, rate_hz=10.0, window_start_s=np.arange(40) * 0.5,
                        lags_s=np.linspace(-2, 2, 41))
    src, counts = heatmap_figure({"f0": r, "rate": "too short for one window"}, 30.0, 8.0)
    assert counts == {"f0": 30 * 41, "rate": 0}
    img = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"))
    grey = np.array([int(MISSING[i:i + 2], 16) for i in (1, 3, 5)])
    assert (np.abs(img.astype(int) - grey).sum(-1) < 6).sum() > 500  # missing drawn grey


def test_overlap_marks_stay_visible_over_rttm_overlap(tmp_path):
    """An overlap_between inside a diarization overlap: its orange mark is drawn, not hidden."""
    import base64
    import io

    import pyarrow as pa
    from PIL import Image

    from prosync.report import timeline_figure

    rows = [("ipu", "a", 1.0, 5.0), ("ipu", "b", 4.0, 8.0), ("rttm_overlap", "a+b", 3.5, 5.5),
            ("overlap_between", "a", 4.0, 5.0)]
    pq.write_table(pa.table({"kind": [r[0] for r in rows], "speaker": [r[1] for r in rows],
                             "start_s": [r[2] for r in rows], "end_s": [r[3] for r in rows]}),
                   tmp_path / "turns.parquet")
    src, counts = timeline_figure(tmp_path, ("a", "b"), 10.0)
    assert counts["overlap_between"] == 1 and counts["rttm_overlap"] == 1
    img = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"))
    orange = (np.abs(img.astype(int) - [0xff, 0x99, 0x00]).sum(-1) < 30).sum()
    assert orange > 200, orange  # the legend swatch alone is smaller

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from prosync.corpus import TABLES, corpus_pseudo_dyads, discover, run_corpus
from tests.audio import dialogue


def _corpus(d, n=3, seconds=None):
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        a, b, _ = dialogue(seed=i)
        x = np.stack([a, b], 1)
        if seconds:
            x = np.tile(x, (int(np.ceil(seconds / 12)), 1))
        sf.write(str(d / f"s{i}.flac"), np.roll(x, i * 8000, axis=0), 16000)
    return d


def test_discover_naming_rule(tmp_path):
    for n in ("st.wav", "mix.wav", "pair.client.wav", "pair.coach.wav"):
        sf.write(str(tmp_path / n), np.zeros((100, 2 if n == "st.wav" else 1), np.float32), 16000)
    (tmp_path / "mix.rttm").write_text("SPEAKER mix 1 0 1 <NA> <NA> x <NA> <NA>\n")
    s = {x.session: x for x in discover(tmp_path)}
    assert set(s) == {"st", "mix", "pair"}
    assert s["mix"].rttm.endswith("mix.rttm")
    assert s["pair"].speakers == ["client", "coach"]


def test_corpus_dataset_failures_and_resume(tmp_path):
    src = _corpus(tmp_path / "in", 3)
    (src / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    sf.write(str(src / "mono.wav"), np.zeros(16000, np.float32), 16000)
    out = tmp_path / "out"
    s = run_corpus(src, out, workers=1, progress=False)
    assert s["done"] == 3 and s["failed"] == 2
    fails = {f["session"]: f for f in pq.read_table(out / "failures.parquet").to_pylist()}
    assert "broken.wav" in fails["broken"]["file"] and "cannot read" in fails["broken"]["reason"]
    assert "rttm=" in fails["mono"]["reason"]  # the library names its parameter
    fr = ds.dataset(out / "frames", partitioning="hive").to_table()
    assert set(fr.column("session").to_pylist()) == {"s0", "s1", "s2"}
    for t in ("end_of_turn", "turn_end"):  # every session table is partitioned, none left out
        assert {p.parent.name for p in (out / t).glob("session=*/part-0.parquet")} == {
            "session=s0", "session=s1", "session=s2"}
    pd_ = s["pseudo_dyads"]
    assert pd_["pseudo_pairs"] == 6 and set(pd_["features"]) == {"f0", "energy", "rate", "vad"}
    again = run_corpus(src, out, workers=1, progress=False)
    assert again["scored_this_run"] == 0 and again["done"] == 3


def test_pseudo_dyads_real_beats_pseudo_on_coupled_pairs(tmp_path):
    import pyarrow as pa

    from prosync.streams.arrow import columns_batch

    rng = np.random.default_rng(3)
    pairs = {}
    for k in range(4):
        x = np.convolve(rng.normal(size=1200), np.ones(10) / 10, "same")
        y = np.roll(x, 5) + 0.3 * rng.normal(size=1200)
        pairs[f"s{k}"] = {"f0": (x.astype(np.float32), y.astype(np.float32))}
        d = tmp_path / "series" / f"session=s{k}"
        d.mkdir(parents=True)
        cols = {"speaker": ["a"] * 1200 + ["b"] * 1200, "t_s": np.r_[np.arange(1200), np.arange(1200)] * 0.1}
        for c in ("f0_st", "energy_db", "rate_sps", "vad"):
            cols[c] = np.r_[x, y]
        pq.write_table(pa.Table.from_batches([columns_batch("series", cols)]), d / "part-0.parquet")
    r = corpus_pseudo_dyads(tmp_path, [f"s{k}" for k in range(4)])
    f = r["features"]["f0"]
    assert r["pseudo_pairs"] == 12 and f["real_mean"] > f["pseudo_mean"] and f["cohens_d"] > 2
    # the one pseudo-dyad implementation, with the same defaults as the Python API
    from prosync import pseudo_dyads

    api = pseudo_dyads(pairs)["f0"]
    assert f["cohens_d"] == round(api.cohens_d, 4) and r["settings"]["window_s"] == 8.0
    assert f["p_value"] == round(api.p_value, 4) and f["p_value"] < 0.05
    research = corpus_pseudo_dyads(tmp_path, [f"s{k}" for k in range(4)], preset="research")
    assert research["settings"]["window_s"] == 30.0 and research["settings"]["step_s"] == 10.0


def test_corpus_on_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    src = _corpus(tmp_path / "in", 2)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cl, distributed.Client(cl) as client:
        s = run_corpus(src, tmp_path / "out", dask=client, progress=False)
    assert s["done"] == 2


def test_sigkill_mid_run_loses_nothing(tmp_path):
    src = _corpus(tmp_path / "in", 4, seconds=24)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "prosync.cli", "corpus", str(src), "--out", str(out), "--workers", "1",
           "--quiet"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    t0 = time.time()
    while time.time() - t0 < 120:
        if list((out / "summary").glob("session=*/summary.json")):
            break
        time.sleep(0.05)
    else:
        p.kill()
        pytest.fail("no session finished in 120 s")
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    finished = [d.name.split("=")[1] for d in (out / "summary").glob("session=*")
                if (d / "summary.json").exists()]
    assert 1 <= len(finished) < 4
    for s in finished:
        json.loads((out / "summary" / f"session={s}" / "summary.json").read_text())
        for t in TABLES:
            pq.read_table(out / t / f"session={s}" / "part-0.parquet")
    dataset_files = [f for t in (*TABLES, "summary")
                     for f in (out / t).rglob("*") if f.is_file()] if (out / "frames").exists() else []
    assert not [f for f in dataset_files if f.name.endswith(".partial") or f.name.startswith(".")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "corpus_summary.json").read_text())
    assert s["done"] == 4 and s["scored_this_run"] == 4 - len(finished)
    assert not (out / ".work").exists() or not any((out / ".work").iterdir())


def test_dask_worker_in_another_folder_gets_absolute_paths(tmp_path, monkeypatch):
    """``--dask`` with relative paths: a worker process started in another folder must find the
    audio and write into the right dataset."""
    distributed = pytest.importorskip("distributed")
    _corpus(tmp_path / "in", 2)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the worker process starts here
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cl, distributed.Client(cl) as client:
        monkeypatch.chdir(tmp_path)  # the user runs prosync corpus from here, with relative paths
        s = run_corpus("in", "out", dask=client, progress=False)
    assert s["done"] == 2 and s["failed"] == 0, s["failures"]
    assert len(list((tmp_path / "out").rglob("*.parquet"))) > 2
    assert not (elsewhere / "out").exists()

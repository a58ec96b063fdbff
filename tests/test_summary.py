import numpy as np

from prosync import Session
from prosync.engine.speaker import FRAME_DTYPE
from prosync.engine.summary import FRAME_MEMORY, SessionSummary
from tests.audio import dialogue


def test_recent_frames_ring_keeps_the_last_frames_in_order():
    s = SessionSummary(("a", "b"))
    rng = np.random.default_rng(0)
    t = 0
    for n in rng.integers(1, 900, 40):
        rec = np.zeros(n, FRAME_DTYPE)
        rec["t_s"] = (np.arange(t, t + n) + 0.5) * 0.01
        t += n
        s._remember("a", rec)
    got = s.recent_frames("a")["t_s"]
    want = (np.arange(max(0, t - FRAME_MEMORY), t) + 0.5) * 0.01
    np.testing.assert_array_equal(got, want)


def test_summary_counts_match_the_frames():
    a, b, ipus = dialogue()
    sess = Session()
    summ = SessionSummary(("a", "b"))
    frames = {"a": [], "b": []}
    for i in range(0, len(a), 777):
        for k, x in enumerate((a, b)):
            u = sess.push(k, x[i:i + 777])
            summ.update(u)
            for spk, r in u.frames.items():
                frames[spk].append(r)
    u = sess.close()
    summ.update(u)
    for spk, r in u.frames.items():
        frames[spk].append(r)
    out = summ.summary(len(a) / 16000, sess)
    for spk in ("a", "b"):
        rec = np.concatenate(frames[spk])
        assert out["speakers"][spk]["frames"] == len(rec)
        assert out["speakers"][spk]["voiced_fraction"] == round(rec["voiced"].mean(), 4)
        assert out["speakers"][spk]["ipus"] == len(ipus[spk])
    assert out["fto_s"]["count"] == 3
    assert set(out["synchrony"]) == {"f0", "energy", "rate", "vad"}
    ipu_feats = [i.features for i in summ.ipu_list if i.speaker == "a"]
    assert all(abs(np.log2(f["f0_mean_hz"] / 210)) < 0.02 for f in ipu_feats)

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


def _rows(feature, values):
    from prosync.engine.synchrony import SyncRow

    nan = float("nan")
    return [SyncRow(t_s=8 + 0.5 * k, window_start_s=0.5 * k, feature=feature, r_lag0=v,
                    r_peak=v, lag_s=0.0 if np.isfinite(v) else nan, z=nan, n_valid=0)
            for k, v in enumerate(values)]


def test_synchrony_means_are_over_finite_windows_only():
    from prosync.engine.session import Update

    sess = Session()
    s = SessionSummary(("a", "b"))
    for spk in ("a", "b"):  # both speak: the reason must not be a silent speaker
        s.n[spk], s.speech[spk] = 1000, 500
    nan = float("nan")
    s.update(Update(synchrony=_rows("rate", [-0.5, nan, -0.4, nan, nan])
                    + _rows("f0", [nan, nan, nan])))
    out = s.summary(12.0, sess)["synchrony"]
    assert out["rate"]["windows"] == 5 and out["rate"]["valid_windows"] == 2
    assert out["rate"]["mean_r_lag0"] == -0.45  # not -0.9 / 5
    assert out["rate"]["reason"] is None
    assert out["f0"]["mean_r_lag0"] is None and out["f0"]["mean_r_peak"] is None
    assert "enough values from both speakers" in out["f0"]["reason"]
    assert "too short" in out["energy"]["reason"]  # no window at all
    s.speech["b"] = 0
    assert "silent speaker" in s.summary(12.0, sess)["synchrony"]["f0"]["reason"]


def test_no_window_called_significant_where_the_window_p_is_not_calibrated():
    from prosync.engine.config import RESEARCH_SYNC, Config, SyncConfig
    from prosync.engine.session import Update

    rows = _rows("rate", [-0.5, 0.4, -0.4])
    live = SessionSummary(("a", "b"))
    live.update(Update(synchrony=rows))
    out = live.summary(40.0, Session())["synchrony"]["rate"]
    assert out["significant_windows"] is not None and out["window_note"] is None
    research = SessionSummary(("a", "b"))
    research.update(Update(synchrony=rows))
    out = research.summary(40.0, Session(config=Config(sync=RESEARCH_SYNC)))["synchrony"]["rate"]
    assert out["significant_windows"] is not None and out["window_note"] is None
    custom = SessionSummary(("a", "b"))
    custom.update(Update(synchrony=rows))
    cfg = Config(sync=SyncConfig(window_s=12.0))  # settings never measured on the null sets
    out = custom.summary(40.0, Session(config=cfg))["synchrony"]["rate"]
    assert out["significant_windows"] is None and out["significant_fraction"] is None
    assert "not calibrated" in out["window_note"] and out["windows"] == 3


def test_summary_says_what_made_it():
    import datetime

    from prosync.engine.config import RESEARCH_SYNC, Config
    from prosync.engine.schema import SCHEMA_VERSION

    out = SessionSummary(("a", "b")).summary(1.0, Session())
    assert out["made_by"]["schema_version"] == SCHEMA_VERSION
    assert out["made_by"]["prosync_version"] not in ("", "unknown")
    made = datetime.datetime.fromisoformat(out["made_by"]["created_utc"])
    assert abs((datetime.datetime.now(datetime.timezone.utc) - made).total_seconds()) < 60
    assert out["settings"]["preset"] == "live"
    assert out["settings"]["sync"]["window_s"] == 8.0 and out["settings"]["sync"]["lag_s"] == 2.0
    research = Session(config=Config(sync=RESEARCH_SYNC))
    assert SessionSummary(("a", "b")).summary(1.0, research)["settings"]["preset"] == "research"


def _check(sig_a, sig_b, speech_b):
    from types import SimpleNamespace

    s = SessionSummary(("a", "b"))
    s.audio(0, sig_a)
    s.audio(1, sig_b)
    s.n.update(a=1000, b=1000)
    s.speech.update(a=500, b=speech_b)
    src = [SimpleNamespace(path="x.wav", channel=0), SimpleNamespace(path="x.wav", channel=1)]
    return s.check_audio(src)


def test_silent_channel_warnings_digital_near_silent_and_speechless():
    rng = np.random.default_rng(1)
    voice = (0.3 * np.sin(np.arange(16000) / 5)).astype(np.float32)
    assert _check(voice, voice[::-1].copy(), 400) == []
    w = _check(voice, np.zeros(16000, np.float32), 0)
    assert len(w) == 1 and "x.wav channel 2 (speaker b) is digital silence" in w[0]
    hiss = rng.uniform(-2.8e-4, 2.8e-4, 16000).astype(np.float32)  # peak -71 dBFS, as hold.wav
    w = _check(hiss, voice, 400)  # near-silent even where the VAD fired (on hiss)
    assert len(w) == 1 and "channel 1 (speaker a) is near-silent (peak -71 dBFS, 50% speech)" in w[0]
    w = _check(voice, hiss, 0)
    assert len(w) == 1 and "channel 2 (speaker b) is near-silent (peak -71 dBFS, 0% speech)" in w[0]
    w = _check(voice, voice * 0.01, 3)  # -50 dBFS, audible hiss but speech in 0.3% of frames
    assert len(w) == 1 and "has no speech found (peak -50 dBFS, 0% speech)" in w[0]


def test_identical_channels_are_named_as_such():
    """A mono recording copied to both channels: before, the only warning was the second
    channel's "no speech found ... check that the microphone is not muted" (the cross-talk rule
    gives every frame to the first)."""
    voice = (0.3 * np.sin(np.arange(16000) / 5)).astype(np.float32)
    w = _check(voice, voice.copy(), 0)
    assert any("channels 1 and 2 carry the same audio" in x and "channels=1" in x for x in w), w
    assert not any("same audio" in x for x in _check(voice, voice * 0.5, 400))
    z = np.zeros(16000, np.float32)
    assert not any("same audio" in x for x in _check(z, z, 0))  # silence is named as such


def test_levitan_hirschberg_p_values_withheld_below_the_minimum():
    from types import SimpleNamespace

    from prosync.engine.entrainment import LocalStat
    from prosync.engine.summary import LH_MIN_PAIRS_P, _lh_row

    def row(n, p):
        st = LocalStat(0.9, 0.001, n)  # the textbook p is never reported
        return _lh_row(SimpleNamespace(proximity=SimpleNamespace(t=2.5, p=0.001, n=n),
                                       convergence=st, synchrony=st),
                       {"proximity": p, "convergence": p, "synchrony": p, "n": n})
    few = row(4, float("nan"))
    assert few["synchrony_r"] == 0.9 and few["pairs"] == 4
    assert few["synchrony_p"] is None and few["proximity_p"] is None and few["convergence_p"] is None
    assert f"4 turn exchanges, below the minimum of {LH_MIN_PAIRS_P}" in few["p_note"]
    enough = row(LH_MIN_PAIRS_P, 0.04)
    assert enough["synchrony_p"] == 0.04 and enough["proximity_p"] == 0.04 and not enough["p_note"]
    assert LH_MIN_PAIRS_P == 22

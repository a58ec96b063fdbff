import pytest

from prosync import Config, PitchConfig, ProsyncError, TurnConfig, VadConfig
from prosync.engine.config import RESEARCH_SYNC, RateConfig, SyncConfig


@pytest.mark.parametrize("cfg, msg", [
    (Config(pitch=PitchConfig(floor_hz=400, ceiling_hz=100)), "pitch range"),
    (Config(vad=VadConfig(webrtc_mode=7)), "webrtc_mode"),
    (Config(turns=TurnConfig(ipu_bridge_s=-1)), "ipu_bridge_s"),
    (Config(sync=SyncConfig(rate_hz=7)), "divisor"),
    (Config(sync=SyncConfig(lag_s=9, window_s=8)), "lag_s"),
    (Config(rate=RateConfig(window_s=0)), "window_s"),
])
def test_bad_config_names_the_value(cfg, msg):
    with pytest.raises(ProsyncError, match=msg):
        cfg.validate()


def test_defaults_and_research_preset_validate():
    Config().validate()
    Config(sync=RESEARCH_SYNC).validate()
    assert RESEARCH_SYNC.window_s == 30 and RESEARCH_SYNC.lag_s == 5 and RESEARCH_SYNC.step_s == 10


def test_presets_are_named_once_and_selectable():
    from prosync import SYNC_PRESETS, Session

    assert set(SYNC_PRESETS) == {"live", "research"}
    live, research = SyncConfig.preset("live"), SyncConfig.preset("research")
    assert live == SyncConfig() and (live.window_s, live.lag_s, live.step_s) == (8, 2, 0.5)
    assert (research.window_s, research.lag_s, research.step_s) == (30, 5, 10)
    assert Config.preset("research").sync is research
    assert Session(preset="research").config.sync == research
    assert Session().config.sync == live
    with pytest.raises(ProsyncError, match="preset 'fast' is unknown: use one of live, research"):
        SyncConfig.preset("fast")
    with pytest.raises(ProsyncError, match="not both"):
        Session(preset="research", config=Config(sync=SyncConfig(window_s=12)))


def test_preset_option_on_every_command():
    from prosync.cli import _parser

    p = _parser()
    for argv in (["score", "x.wav", "--out", "o"], ["demo"], ["live"], ["corpus", "d", "--out", "o"]):
        assert p.parse_args(argv + ["--preset", "research"]).preset == "research"
        assert p.parse_args(argv).preset == "live"

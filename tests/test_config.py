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

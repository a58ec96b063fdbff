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


def test_breath_gap_must_be_shorter_than_the_stretch_bridge():
    # a run breath_gap_s apart would already start a new stretch: the breath rule never applies
    for gap, bridge in ((0.1, 0.1), (0.15, 0.1), (0.095, 0.1)):  # 0.095 s is 10 frames too
        with pytest.raises(ProsyncError, match=r"turns.breath_gap_s=.* shorter than "
                                                r"turns.stretch_bridge_s"):
            Config(turns=TurnConfig(breath_gap_s=gap, stretch_bridge_s=bridge)).validate()
    with pytest.raises(ProsyncError, match="turns.breath_gap_s"):
        Config(turns=TurnConfig(breath_gap_s=0.05, ipu_bridge_s=0.05)).validate()
    Config(turns=TurnConfig(breath_gap_s=0.09, stretch_bridge_s=0.1)).validate()
    Config(turns=TurnConfig(breath_gap_s=0.0, stretch_bridge_s=0.0)).validate()  # the rule off


def test_vad_bands_one_clear_line_each():
    for kw, msg in (({"band_count": 0}, r"vad.band_count=0 is invalid: use an integer 1 to 8"),
                    ({"band_count": 2.0}, r"vad.band_count=2.0 is invalid"),
                    ({"band_lo_hz": 0.0, "band_count": 5},
                     r"vad.band_count=5 needs vad.band_lo_hz > 0"),
                    ({"band_lo_hz": 3000.0, "band_hi_hz": 300.0},
                     r"vad.band_hi_hz=300.0 is invalid: use 0 \(no upper edge\) or more than "
                     r"vad.band_lo_hz=3000.0"),
                    ({"band_lo_hz": -1.0}, r"vad.band_lo_hz=-1.0 is invalid: use 0 to 7000 Hz")):
        with pytest.raises(ProsyncError, match=msg):
            Config(vad=VadConfig(**kw)).validate()
    assert (VadConfig().band_lo_hz, VadConfig().band_count) == (150.0, 5)  # the default
    Config(vad=VadConfig(band_lo_hz=0.0, band_count=1)).validate()  # broadband
    Config(vad=VadConfig(band_lo_hz=300.0, band_hi_hz=3400.0)).validate()


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


@pytest.mark.parametrize("section, field, value, msg", [
    ("pacing", "min_reply_delay_ms", -5.0, r"pacing.min_reply_delay_ms=-5.0 is invalid: use 0 to 5000 ms"),
    ("pacing", "max_reply_delay_ms", 100.0, r"max_reply_delay_ms=100.0 is below min_reply_delay_ms"),
    ("pacing", "default_reply_delay_ms", 9000.0, r"default_reply_delay_ms=9000.0 is invalid"),
    ("pacing", "rate_dead_band", float("nan"), r"pacing.rate_dead_band=nan is invalid: use 0 to 1"),
    ("pacing", "max_f0_offset_st", "4", r"pacing.max_f0_offset_st='4' is invalid"),
    ("vad", "floor_margin_db", -1.0, r"vad.floor_margin_db=-1.0 is invalid: use 0 to 40 dB \(default 9\)"),
    ("vad", "cross_talk_corr", 1.5, r"vad.cross_talk_corr=1.5 is invalid: use 0 to 1"),
    ("vad", "floor_quantile", -0.1, r"vad.floor_quantile=-0.1 is invalid"),
    ("vad", "webrtc_mode", True, r"vad.webrtc_mode=True is invalid"),
    ("vad", "evidence_frac_new", 1.2, r"vad.evidence_frac_new=1.2 is invalid: use 0 to 1 \(default 0.7\)"),
    ("vad", "evidence_hold_s", -0.1, r"vad.evidence_hold_s=-0.1 is invalid: use 0 to 10 s"),
    ("rate", "min_dip_db", 0.0, r"rate.min_dip_db=0.0 is invalid: use more than 0 and at most 20 dB"),
    ("turns", "ipu_bridge_s", float("inf"), r"turns.ipu_bridge_s=inf is invalid: use 0 to 2 s"),
    ("turns", "min_ipu_s", 3.0, r"turns.min_ipu_s=3.0 is invalid: use 0 to 2 s"),
    ("sync", "step_s", float("nan"), r"sync.step_s=nan is invalid: use more than 0"),
    ("sync", "hold_s", -1.0, r"sync.hold_s=-1.0 is invalid: use 0 to 60 s \(default 4\)"),
    ("sync", "window_s", 0.1, r"sync.window_s=0.1 is invalid"),
    # a WebSocket client's config: a float or NaN count failed deep in the engine, 1e9 filled
    # the memory
    ("sync", "surrogates", 1e9, r"sync surrogates=1000000000.0 is invalid: use a whole number "
                                r"from 39 to 9999"),
    ("sync", "session_surrogates", float("nan"), r"sync session_surrogates=nan is invalid"),
    ("sync", "surrogates", 99.5, r"sync surrogates=99.5 is invalid"),
    ("sync", "session_surrogates", 10**6, r"sync session_surrogates=1000000 is invalid"),
    ("sync", "surrogates", 38, r"sync surrogates=38 is too few for a p-value of 0.025"),
    ("end_of_turn", "bias", float("nan"), r"end_of_turn.bias=nan is invalid: use -10 to 10"),
    ("end_of_turn", "cue_weight", -1.0, r"end_of_turn.cue_weight=-1.0 is invalid: use 0 to 5"),
    ("end_of_turn", "cue_centre", "4", r"end_of_turn.cue_centre='4' is invalid"),
    ("end_of_turn", "min_pause_s", 5.0, r"end_of_turn.min_pause_s=5.0 is invalid: use 0 to 2 s"),
    ("end_of_turn", "fragment_s", -0.1, r"end_of_turn.fragment_s=-0.1 is invalid: use 0 to 2 s"),
    ("end_of_turn", "fragment_wait_s", 11.0, r"end_of_turn.fragment_wait_s=11.0 is invalid"),
    # the seed was never checked: NaN, a fraction or a negative number failed deep in numpy's
    # SeedSequence when the first synchrony window was drawn
    ("sync", "seed", float("nan"), r"sync.seed=nan is invalid: use a whole number from 0"),
    ("sync", "seed", 1.5, r"sync.seed=1.5 is invalid: use a whole number"),
    ("sync", "seed", -1, r"sync.seed=-1 is invalid: use a whole number from 0 to 2\*\*64 - 1"),
    ("sync", "seed", True, r"sync.seed=True is invalid"),
    # a client's null or string: a comparison raised TypeError (a traceback, not one line)
    ("pitch", "floor_hz", None, r"pitch.floor_hz=None is invalid: use a number \(default 60.0\)"),
    ("sync", "lag_s", "2", r"sync.lag_s='2' is invalid: use a number"),
    ("end_of_turn", "threshold", None, r"end_of_turn.threshold=None is invalid"),
    ("end_of_turn", "prior_ends", None, r"end_of_turn.prior_ends=None is invalid"),
    ("pacing", "default_reply_delay_ms", "250", r"pacing.default_reply_delay_ms='250' is invalid"),
    ("vad", "webrtc_mode", None, r"vad.webrtc_mode=None is invalid: use a whole number"),
    # ... and a bool passed as a number, an infinite prior
    ("sync", "rate_hz", True, r"sync.rate_hz=True is invalid"),
    ("end_of_turn", "horizon_s", True, r"end_of_turn.horizon_s=True is invalid"),
    ("end_of_turn", "pause_sigma", float("inf"), r"pause_sigma, prior_pauses and prior_ends "
                                                 r"must be finite and > 0"),
])
def test_every_section_names_the_field_and_the_fix(section, field, value, msg):
    import dataclasses

    base = Config()
    cfg = dataclasses.replace(base, **{section: dataclasses.replace(getattr(base, section),
                                                                    **{field: value})})
    with pytest.raises(ProsyncError, match=msg):
        cfg.validate()


def test_fragment_wait_within_the_horizon():
    """After a fragment the probability is held for fragment_wait_s: beyond horizon_s (the rows
    of a silence) turn_end could never fire, against the gate's promise that a fragment not
    followed up is still answered."""
    import dataclasses

    eot = Config().end_of_turn
    with pytest.raises(ProsyncError, match=r"fragment_wait_s=4 is beyond horizon_s=3"):
        dataclasses.replace(eot, fragment_s=0.3, fragment_wait_s=4.0).validate()
    dataclasses.replace(eot, fragment_s=0.3, fragment_wait_s=3.0).validate()
    dataclasses.replace(eot, fragment_s=0.0, fragment_wait_s=4.0).validate()  # gate off


def test_readme_preset_table_matches_the_presets():
    """The README states each preset's values once; they must be the code's."""
    import re
    from pathlib import Path

    from prosync import SYNC_PRESETS

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for name, c in SYNC_PRESETS.items():
        row = re.search(rf"^\| `{name}`[^|]*\| (.+)$", text, re.M)
        assert row, f"README has no row for preset {name!r}"
        cells = [x.strip() for x in row.group(1).split("|")]
        assert cells[:4] == [f"{c.window_s:g} s", f"±{c.lag_s:g} s", f"{c.step_s:g} s",
                             f"last {c.history_s:g} s"], (name, cells)


def test_websocket_config_with_a_null_is_one_clear_error():
    """A WebSocket client's ``config`` goes through the same validation: a null value is a
    ProsyncError naming the field (a TypeError escaped before)."""
    from prosync.streams.ws_protocol import _config_from

    with pytest.raises(ProsyncError, match=r"end_of_turn.horizon_s=None is invalid"):
        _config_from({"end_of_turn": {"horizon_s": None}})
    with pytest.raises(ProsyncError, match=r"sync.seed=nan is invalid"):
        _config_from({"sync": {"seed": float("nan")}})
    assert _config_from({"sync": {"seed": 7}}).sync.seed == 7

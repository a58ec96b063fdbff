"""Configuration of the per-speaker core and the turn tracker.

All times are in seconds (``_s``), levels in dB (``_db``), frequencies in Hz (``_hz``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .errors import ProsyncError

#: Internal sample rate of the engine: every input is resampled to this rate (soxr).
SAMPLE_RATE = 16000
#: Frame hop: features are emitted every 10 ms.
HOP = 160
HOP_S = HOP / SAMPLE_RATE


@dataclass(frozen=True)
class PitchConfig:
    floor_hz: float = 60.0
    ceiling_hz: float = 500.0

    def validate(self) -> None:
        if not (20.0 <= self.floor_hz < self.ceiling_hz <= 2000.0):
            raise ProsyncError(
                f"pitch range {self.floor_hz}-{self.ceiling_hz} Hz is invalid: "
                "use 20 <= floor_hz < ceiling_hz <= 2000 (default 60-500)"
            )


@dataclass(frozen=True)
class VadConfig:
    #: webrtcvad aggressiveness, 0 (least) to 3 (most aggressive about filtering non-speech).
    webrtc_mode: int = 2
    #: A frame is speech only when its energy is this far above the adaptive noise floor.
    floor_margin_db: float = 9.0
    #: Speech is held this long after the last speech frame (hangover).
    hangover_s: float = 0.08
    #: In two-microphone recordings a channel this much quieter than the other while the other
    #: speaks is taken as bleed of the other speaker, not speech of its own.
    bleed_db: float = 15.0

    def validate(self) -> None:
        if self.webrtc_mode not in (0, 1, 2, 3):
            raise ProsyncError(f"webrtc_mode={self.webrtc_mode} is invalid: use 0, 1, 2 or 3")
        if not 0.0 <= self.hangover_s <= 1.0:
            raise ProsyncError(f"hangover_s={self.hangover_s} is invalid: use 0 to 1 s")


@dataclass(frozen=True)
class RateConfig:
    #: Rolling window for syllables per second.
    window_s: float = 3.0
    #: Minimum dip (dB) on both sides of an intensity peak (de Jong & Wempe 2009: 2 dB).
    min_dip_db: float = 2.0
    #: Peaks must be above (speaker's running peak level - this) (de Jong & Wempe: -25 dB).
    silence_db: float = 25.0


@dataclass(frozen=True)
class TurnConfig:
    #: Within-speaker silences shorter than this are bridged into one IPU (Heldner & Edlund 2010).
    ipu_bridge_s: float = 0.18

    def validate(self) -> None:
        if not 0.0 <= self.ipu_bridge_s <= 2.0:
            raise ProsyncError(f"ipu_bridge_s={self.ipu_bridge_s} is invalid: use 0 to 2 s")


@dataclass(frozen=True)
class Config:
    pitch: PitchConfig = field(default_factory=PitchConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    rate: RateConfig = field(default_factory=RateConfig)
    turns: TurnConfig = field(default_factory=TurnConfig)

    def validate(self) -> Config:
        self.pitch.validate()
        self.vad.validate()
        self.turns.validate()
        return self

    def to_dict(self) -> dict:
        return asdict(self)

"""Turn tracker (placeholder interface: being replaced by the full Heldner & Edlund tracker)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import HOP_S, TurnConfig


@dataclass(frozen=True)
class TurnEvent:
    kind: str
    speaker: str
    start_s: float
    end_s: float
    fto_s: float = float("nan")
    speaker_before: str = ""
    speaker_after: str = ""


class TurnTracker:
    def __init__(self, speakers, cfg: TurnConfig):
        self.speakers = tuple(speakers)
        self.cfg = cfg
        self._start = [-1] * len(self.speakers)
        self._k = 0

    def update(self, k0, n, speech):
        ev = []
        for s, flags in enumerate(speech):
            d = np.diff(np.concatenate([[self._start[s] >= 0], flags]).astype(np.int8))
            for j in np.flatnonzero(d):
                if d[j] > 0:
                    self._start[s] = k0 + j
                else:
                    ev.append(TurnEvent("ipu", self.speakers[s], self._start[s] * HOP_S,
                                        (k0 + j) * HOP_S))
                    self._start[s] = -1
        self._k = k0 + n
        return ev

    def flush(self):
        ev = []
        for s, st in enumerate(self._start):
            if st >= 0:
                ev.append(TurnEvent("ipu", self.speakers[s], st * HOP_S, self._k * HOP_S))
        return ev

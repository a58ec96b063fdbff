"""Praat TextGrid output (with praatio): one IPU tier per speaker and the turn events.

Tiers: ``<speaker> IPU`` (label ``ipu``), then ``turns`` with the pauses, gaps and overlaps
(label = kind, plus ``fto=+0.230`` at a floor change), then ``rttm overlap`` when the input was a
mono mix split by an RTTM. Events of one tier never overlap; an event that would overlap an
earlier one of the same tier goes to a further tier ``turns 2``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from .atomic import atomic_path

#: Turn-event kinds written to the ``turns`` tier.
TURN_KINDS = ("pause", "gap", "overlap_between", "overlap_within", "overlap_other",
              "silence_ambiguous", "edge_silence")


def write_textgrid(path: str | Path, speakers: Sequence[str], events: Iterable[dict],
                   duration_s: float) -> Path:
    """``events``: rows of ``turns.parquet`` (dicts with kind, speaker, start_s, end_s, fto_s)."""
    from praatio import textgrid

    path = Path(path)
    end = max(float(duration_s), 0.001)
    ev = sorted(events, key=lambda e: (e["start_s"], e["end_s"]))
    tg = textgrid.Textgrid(minTimestamp=0.0, maxTimestamp=end)

    def tiers(name, rows):
        layers: list[list[tuple[float, float, str]]] = []
        for s, e, lab in rows:
            s, e = max(0.0, s), min(end, e)
            if e - s < 1e-6:
                continue
            for layer in layers:
                if layer[-1][1] <= s + 1e-9:
                    layer.append((s, e, lab))
                    break
            else:
                layers.append([(s, e, lab)])
        for k, layer in enumerate(layers or [[]]):
            tg.addTier(textgrid.IntervalTier(name if k == 0 else f"{name} {k + 1}", layer, 0.0, end))

    for spk in speakers:
        tiers(f"{spk} IPU", [(e["start_s"], e["end_s"], "ipu") for e in ev
                            if e["kind"] == "ipu" and e["speaker"] == spk])

    def label(e):
        f = e.get("fto_s")
        return e["kind"] + (f" fto={f:+.3f}" if f is not None and math.isfinite(f) else "")

    tiers("turns", [(e["start_s"], e["end_s"], label(e)) for e in ev if e["kind"] in TURN_KINDS])
    ov = [(e["start_s"], e["end_s"], "overlap") for e in ev if e["kind"] == "rttm_overlap"]
    if ov:
        tiers("rttm overlap", ov)
    with atomic_path(path) as tmp:
        tg.save(str(tmp), format="long_textgrid", includeBlankSpaces=True)
    return path

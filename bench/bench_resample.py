"""The speaker's resampler against soxr HQ (what the engine used): hold, CPU and filter quality.

Per input rate, both resamplers stream to 16 kHz (``resampler(rate)`` of ``engine/resample.py``:
the polyphase FIR, a half-band filter at 8 kHz; soxr ``ResampleStream`` HQ):

* hold: the most input time not yet reflected in the output, after every 1 ms block (what a
  live frame waits for the resampler: ``Session.lookahead_s`` is the kernels' 49.4 ms plus it);
* CPU: process time per second of one channel, 60 s of noise in 10 ms blocks (a device's
  block), best of 3 alternating runs of each, as a ratio to soxr HQ in the same run;
* pass-band ripple: peak-to-peak gain (dB) of tones every 50 Hz from 50 Hz to 800 Hz below the
  lower Nyquist frequency (7.2 kHz into 16 kHz), each fitted by least squares at its frequency;
* stop band: the loudest output of a tone that must vanish, in dB of the tone: from above 16 kHz,
  tones every 100 Hz from 8.05 kHz to the input's Nyquist (all of them alias); from below
  16 kHz, tones every 50 Hz in the pass band, the output less the fitted tone (its images);
* tone error: the output against the exact sine at 16 kHz, tones of 200 Hz to 7 kHz (where
  in the pass band), the worst in dB of the tone;
* edge: the gain of a tone 600 Hz below the lower Nyquist frequency (7.4 kHz into 16 kHz).

Tones are 0.5 s at amplitude 0.5; the first and last 25 ms are left out (the stream's edges).
Writes ``bench/results/resample.md``. Usage: ``python bench/bench_resample.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for _shared
from _shared import one_core, write_section  # noqa: E402

from prosync.engine.config import SAMPLE_RATE  # noqa: E402
from prosync.engine.resample import ratio, resampler  # noqa: E402

RATES = [8000, 11025, 22050, 24000, 32000, 44100, 48000, 96000]
EDGE = int(0.025 * SAMPLE_RATE)


def ours(rate):
    return resampler(rate)


def soxr_hq(rate):
    return soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")


def stream(make, rate, x, block):
    rs, out = make(rate), []
    for i in range(0, x.size, block):
        out.append(rs.resample_chunk(x[i:i + block]))
    out.append(rs.resample_chunk(np.zeros(0, np.float32), last=True))
    return np.concatenate(out)


def hold_ms(make, rate) -> float:
    rs, fed, out, held = make(rate), 0, 0, 0.0
    block = np.zeros(max(1, rate // 1000), np.float32)
    for _ in range(2000):
        out += rs.resample_chunk(block).size
        fed += block.size
        held = max(held, fed / rate - out / SAMPLE_RATE)
    return held * 1000


def cpu_ms(rate) -> tuple[float, float]:
    """Process ms per second of one channel: (ours, soxr HQ), best of 3 alternating runs."""
    x = (np.random.default_rng(0).standard_normal(60 * rate) * 0.1).astype(np.float32)
    block = rate // 100
    best = {ours: np.inf, soxr_hq: np.inf}
    stream(ours, rate, x[:rate], block)  # load the kernel
    for _ in range(3):
        for make in best:
            t0 = time.process_time()
            stream(make, rate, x, block)
            best[make] = min(best[make], time.process_time() - t0)
    return best[ours] / 60 * 1000, best[soxr_hq] / 60 * 1000


def tone(rate, f):
    return (0.5 * np.sin(2 * np.pi * f * np.arange(rate // 2) / rate)).astype(np.float32)


def fit(y, f):
    """Least-squares sine at ``f`` Hz (16 kHz) over the inner part: (its amplitude, residual)."""
    t = np.arange(y.size)[EDGE:-EDGE] / SAMPLE_RATE
    a = np.column_stack([np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)])
    c, *_ = np.linalg.lstsq(a, y[EDGE:-EDGE], rcond=None)
    return float(np.hypot(*c)), y[EDGE:-EDGE] - a @ c


def db(p):
    return 10 * np.log10(max(p, 1e-30))


def quality(make, rate) -> tuple[float, float, float, float]:
    """(pass-band ripple dB peak-to-peak, stop band dB (worst), tone error dB (worst), gain dB
    600 Hz below the lower Nyquist frequency: 7.4 kHz into 16 kHz)."""
    edge = min(rate, SAMPLE_RATE) / 2 - 800
    gains, images = [], []
    for f in np.arange(50.0, edge + 1, 50.0):
        amp, res = fit(stream(make, rate, tone(rate, f), rate // 100), f)
        gains.append(20 * np.log10(amp / 0.5))
        images.append(db(np.mean(res ** 2) / 0.125))
    if rate > SAMPLE_RATE:
        stop = [db(np.mean(stream(make, rate, tone(rate, f), rate // 100)[EDGE:-EDGE] ** 2) / 0.125)
                for f in np.arange(8050.0, rate / 2, 100.0)]
    else:
        stop = images
    errs = []
    for f in (200.0, 1000.0, 3000.0, 5000.0, 7000.0):
        if f <= edge:
            y = stream(make, rate, tone(rate, f), rate // 100)
            exact = 0.5 * np.sin(2 * np.pi * f * np.arange(y.size) / SAMPLE_RATE)
            errs.append(db(np.mean((y - exact)[EDGE:-EDGE] ** 2) / 0.125))
    f = min(rate, SAMPLE_RATE) / 2 - 600
    top = 20 * np.log10(fit(stream(make, rate, tone(rate, f), rate // 100), f)[0] / 0.5)
    return max(gains) - min(gains), max(stop), max(errs), top


def main() -> int:
    import prosync

    pin = one_core()
    kernels = prosync.Session(sample_rate=SAMPLE_RATE, warm=False).lookahead_s * 1000
    rows = []
    for rate in RATES:
        h_ours, h_sox = hold_ms(ours, rate), hold_ms(soxr_hq, rate)
        c_ours, c_sox = cpu_ms(rate)
        q_ours, q_sox = quality(ours, rate), quality(soxr_hq, rate)
        up, down = ratio(rate)
        kind = f"{up}/{down}" + (" half-band" if (up, down) == (2, 1) else "")
        rows.append(f"| {rate / 1000:g} | {kind} | {h_ours:.1f} | {h_sox:.1f} | "
                    f"{kernels + h_sox:.1f} → {kernels + h_ours:.1f} | {c_ours:.2f} | "
                    f"{c_sox:.2f} | {c_ours / c_sox:.2f} | {q_ours[0]:.4f} | {q_sox[0]:.4f} | "
                    f"{q_ours[1]:.0f} | {q_sox[1]:.0f} | {q_ours[2]:.0f} | {q_sox[2]:.0f} | "
                    f"{q_ours[3]:.2f} | {q_sox[3]:.2f} |")
        print(rows[-1], flush=True)
    text = "\n".join([
        "## Resampler to 16 kHz (`python bench/bench_resample.py`)\n",
        "The engine's resampler (`engine/resample.py`: a polyphase FIR, Kaiser windowed sinc "
        "spanning 8 ms of input, 4 ms ahead, a half-band filter at 8 kHz) against soxr "
        "`ResampleStream` HQ, which the engine used at every rate before, measured in the same "
        f"run ({pin}; a machine shared with other jobs: compare the ratios). Hold: the most "
        "input time not yet in the output over 1 ms blocks; `lookahead_s`: "
        "`Session.lookahead_s`, the kernels' look-ahead at 16 kHz plus the hold, soxr → ours. "
        "CPU: process ms per second of one channel in 10 ms blocks (best of 3). Ripple: "
        "peak-to-peak gain of tones up to 800 Hz below the lower Nyquist frequency (7.2 kHz "
        "into 16 kHz). Stop band: the loudest alias (tones 8.05 kHz up to the input's Nyquist) "
        "or image (below 16 kHz) in dB of the tone. Tone error: against the exact sine, "
        "200 Hz-7 kHz, the worst, dB. Edge: the gain 600 Hz below the lower Nyquist frequency "
        "(7.4 kHz into 16 kHz), dB: soxr HQ's pass band reaches further, the price of the "
        "polyphase filter's 4 ms (its -6 dB point is 7.6 kHz).\n",
        "| rate kHz | L/M | hold ms | soxr HQ hold ms | `lookahead_s` ms | CPU ms/s | "
        "soxr HQ CPU ms/s | CPU ratio | ripple dB | soxr ripple dB | stop band dB | "
        "soxr stop band dB | tone error dB | soxr tone error dB | edge dB | soxr edge dB |",
        "|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows, ""])
    write_section("resample", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

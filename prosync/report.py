"""``report.html``: one self-contained page per session (figures embedded as base64 PNG).

It shows the speakers' pitch and energy contours, the turn timeline, a lag x time heat map of
the windowed cross-correlation per feature (as rMEA's ``MEAheatmap`` draws it), the
floor-transfer-offset histogram and the summary table. Everything is read back from the session's
own outputs: the heat map is :func:`prosync.wcc` on ``series.parquet`` with the session's
synchrony settings, which is the very matrix the streaming synchrony computed (offline equals
live).
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from prosync.streams.sink import Sink

#: At most this many points per speaker and contour are drawn (longer sessions are binned).
MAX_POINTS = 6000
COLORS = ("#1f77b4", "#d62728")
FEATURE_LABELS = {"f0": "F0 (st re median)", "energy": "energy (dB re speech level)",
                  "rate": "speech rate (syl/s)", "vad": "voice activity"}
SERIES_COLUMNS = {"f0": "f0_st", "energy": "energy_db", "rate": "rate_sps", "vad": "vad"}


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _read(out: Path, table: str, columns=None):
    """The table, or None. ``ParquetFile.read``: ``pq.read_table`` and ``pyarrow.compute`` import
    pandas (about 50 MB), which the report must not add to a long session's peak memory."""
    import pyarrow.parquet as pq

    p = out / f"{table}.parquet"
    return pq.ParquetFile(p).read(columns=columns) if p.exists() else None


def _np(col) -> np.ndarray:
    """A numeric or bool column as numpy (``ChunkedArray.to_numpy`` imports pandas)."""
    import pyarrow as pa

    chunks = col.chunks if hasattr(col, "chunks") else [col]
    parts = []
    for c in chunks:  # from the buffers: Array.to_numpy imports pandas too
        n, off = len(c), c.offset
        bufs = c.buffers()
        if pa.types.is_boolean(c.type):
            bits = np.unpackbits(np.frombuffer(bufs[1], np.uint8), bitorder="little")
            v = bits[off:off + n].astype(bool)
        else:
            dt = np.dtype(c.type.to_pandas_dtype())
            v = np.frombuffer(bufs[1], dt, count=n, offset=off * dt.itemsize)
        if c.null_count:
            ok = np.unpackbits(np.frombuffer(bufs[0], np.uint8), bitorder="little")[off:off + n]
            v = np.where(ok.astype(bool), v, np.nan if v.dtype.kind == "f" else False)
        parts.append(v)
    return np.concatenate(parts) if len(parts) != 1 else parts[0]


def _speaker_mask(col, name: str) -> np.ndarray:
    """``col == name`` for a pyarrow string column, from its buffers (no pyarrow.compute)."""
    chunks = col.chunks if hasattr(col, "chunks") else [col]
    key = np.frombuffer(name.encode(), dtype=np.uint8)
    out = []
    for a in chunks:
        n = len(a)
        bufs = a.buffers()
        offs = np.frombuffer(bufs[1], dtype=np.int32, count=n + 1, offset=a.offset * 4)
        data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
        m = (offs[1:] - offs[:-1]) == len(key)
        for j, byte in enumerate(key):
            pos = np.minimum(offs[:-1] + j, max(len(data) - 1, 0))
            m &= data[pos] == byte if len(data) else False
        out.append(m)
    return np.concatenate(out) if out else np.zeros(0, dtype=bool)


def _frames_downsampled(out: Path, names):
    """Per speaker: (t, f0) of voiced frames (decimated) and binned energy of speech frames
    (those over the VAD's absolute floor: the hangover after speech reaches into silence, digital
    silence at -120 dBFS where a mix is split by its RTTM).

    The energy bins are whole numbers of 10 ms frames (one frame each up to
    :data:`MAX_POINTS` frames, more in longer sessions), so no bin falls between two frames.
    Streams ``frames.parquet`` by row group, so memory stays flat however long the session.
    """
    import pyarrow.parquet as pq

    from prosync.native.vad import ABS_FLOOR_DB  # no speech starts under it

    pf = pq.ParquetFile(out / "frames.parquet")
    n_frames = max(int(np.ceil(pf.metadata.num_rows / max(len(names), 1))), 1)
    per_bin = -(-n_frames // MAX_POINTS)  # frames per energy bin
    nb = -(-n_frames // per_bin)
    e_sum = {n: np.zeros(nb) for n in names}
    e_cnt = {n: np.zeros(nb) for n in names}
    keep = max(1, int(np.ceil(n_frames / (3 * MAX_POINTS))))  # every k-th voiced frame
    f0 = {n: ([], []) for n in names}
    cols = ["speaker", "t_s", "f0_hz", "energy_db", "speech"]
    for g in range(pf.num_row_groups):  # (iter_batches imports pandas)
        b = pf.read_row_group(g, columns=cols)
        t_all, f_all, e_all, s_all = (_np(b.column(c)) for c in range(1, 5))
        for n in names:
            m = _speaker_mask(b.column(0), n)
            t, f, e, sp = t_all[m], f_all[m], e_all[m], s_all[m].astype(bool)
            frame = np.floor(t * 100).astype(np.int64)  # frame i is centred at (i + 0.5) * 10 ms
            v = np.isfinite(f) & (frame % keep == 0)
            f0[n][0].append(t[v])
            f0[n][1].append(f[v])
            sp &= np.isfinite(e) & (e > ABS_FLOOR_DB)  # not the hangover over (digital) silence
            idx = np.clip(frame[sp] // per_bin, 0, nb - 1)
            e_sum[n] += np.bincount(idx, e[sp].astype(np.float64), minlength=nb)
            e_cnt[n] += np.bincount(idx, minlength=nb)
    centres = (np.arange(nb) + 0.5) * per_bin * 0.01
    res = {}
    for n in names:
        with np.errstate(invalid="ignore", divide="ignore"):
            en = np.where(e_cnt[n] > 0, e_sum[n] / np.maximum(e_cnt[n], 1), np.nan)
        res[n] = (np.concatenate(f0[n][0]) if f0[n][0] else np.zeros(0),
                  np.concatenate(f0[n][1]) if f0[n][1] else np.zeros(0), centres, en)
    return res


def _figure(w, h, layout=None):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _legend_outside(ax, **kw):
    """The legend right of the axes, where it covers no data."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), borderaxespad=0.0,
                     fontsize=8, **kw)


def _empty_note(ax, text):
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=9,
            color="#555", bbox=dict(facecolor="white", edgecolor="#bbb", boxstyle="round"))


def _f0_ticks(ax, values):
    """Plain Hz ticks on the log axis (50, 100, 200, ...), not 10^2 notation."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator, ScalarFormatter

    ax.set_yscale("log")
    if values.size:
        lo, hi = float(np.min(values)), float(np.max(values))
        ticks = [v for v in (50, 75, 100, 150, 200, 300, 400, 600, 800, 1200)
                 if lo / 1.2 <= v <= hi * 1.2] or [round(lo)]
        ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_formatter(NullFormatter())


def contours_figure(out: Path, names, duration_s: float = 0.0):
    """The pitch and energy contours; ``counts`` says how many points each panel drew."""
    data = _frames_downsampled(out, names)
    fig = _figure(12, 5.2, layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    counts = {}
    for i, name in enumerate(names):
        tv, fv, tb, eb = data[name]
        ok = np.isfinite(eb)  # a line is drawn through neighbouring finite bins only
        n_f0, n_en = int(fv.size), int((ok & (np.r_[ok[1:], False] | np.r_[False, ok[:-1]])).sum())
        counts[f"f0-{name}"], counts[f"energy-{name}"] = n_f0, n_en
        ax1.plot(tv, fv, ".", ms=1.5, color=COLORS[i % 2],
                 label=name if n_f0 else f"{name} (no voiced frames)")
        ax2.plot(tb, eb, lw=0.7, color=COLORS[i % 2],
                 label=name if n_en else f"{name} (no speech)")
    _f0_ticks(ax1, np.concatenate([data[n][1] for n in names]))
    ax1.set_ylabel("F0 (Hz, log)")
    ax1.set_title("pitch contours (voiced frames)")
    _legend_outside(ax1, markerscale=6)
    ax2.set_ylabel("energy (dBFS)")
    ax2.set_xlabel("session time (s)")
    ax2.set_title("energy contours (speech frames)")
    _legend_outside(ax2)
    if not any(counts[f"f0-{n}"] for n in names):
        _empty_note(ax1, "no voiced frames in this session")
    if not any(counts[f"energy-{n}"] for n in names):
        _empty_note(ax2, "no speech found in this session")
    ax2.set_xlim(0, max(duration_s, data[names[0]][2][-1] if len(data[names[0]][2]) else 0, 1e-3))
    return _png(fig), counts


def timeline_figure(out: Path, names, duration_s):
    t = _read(out, "turns")
    tu = [dict(zip(t.column_names, r)) for r in zip(*(t.column(c).to_pylist() for c in t.column_names))]
    fig = _figure(12, 1.2 + 0.7 * len(names), layout="constrained")
    ax = fig.subplots()
    counts = {}
    top = len(names) + 0.5
    # diarization overlaps first, as a light band behind the speakers' rows, so the turn-taking
    # marks drawn later stay visible on top of them
    bars = [(e["start_s"], e["end_s"] - e["start_s"]) for e in tu if e["kind"] == "rttm_overlap"]
    counts["rttm_overlap"] = len(bars)
    if bars:
        ax.broken_barh(bars, (0.4, top - 0.4), color="#7b1fa2", alpha=0.18, zorder=1,
                       label="rttm_overlap")
    for i, name in enumerate(names):
        bars = [(e["start_s"], e["end_s"] - e["start_s"]) for e in tu
                if e["kind"] == "ipu" and e["speaker"] == name]
        counts[f"ipu-{name}"] = len(bars)
        ax.broken_barh(bars, (len(names) - i - 0.4, 0.8), color=COLORS[i % 2], zorder=2)
        if not bars:
            ax.text(max(duration_s, 1e-3) / 2, len(names) - i, f"{name}: no speech found",
                    ha="center", va="center", fontsize=8, color="#555")
    for kind, color in (("gap", "#9e9e9e"), ("overlap_within", "#ffd27f"),
                        ("overlap_between", "#ff9900")):
        bars = [(e["start_s"], e["end_s"] - e["start_s"]) for e in tu if e["kind"] == kind]
        counts[kind] = len(bars)
        if bars:
            ax.broken_barh(bars, (0.05, 0.3), color=color, label=kind, zorder=3)
    ax.set_yticks([len(names) - i for i in range(len(names))], list(names))
    ax.set_xlim(0, max(duration_s, 1e-3))
    ax.set_ylim(0, top)
    ax.set_xlabel("session time (s)")
    # an overlap_within is the other's IPU inside this speaker's turn: no floor change
    ax.set_title("turn timeline: IPUs" if len(names) < 2 else
                 "turn timeline: IPUs per speaker; below, floor changes (gaps, overlaps between "
                 "speakers) and overlaps within a turn")
    if any(counts[k] for k in ("gap", "overlap_between", "overlap_within", "rttm_overlap")):
        _legend_outside(ax)
    if not any(counts[f"ipu-{n}"] for n in names):
        _empty_note(ax, "no inter-pausal unit: no speech found")
    return _png(fig), counts


def lag_matrices(out: Path, names, sync_cfg):
    """Per feature the windows x lags matrix of raw r, recomputed from ``series.parquet``."""
    from prosync.engine.errors import ProsyncError
    from prosync.engine.wcc import wcc

    se = _read(out, "series")
    if se is None or se.num_rows == 0 or len(names) != 2:
        return {}
    masks = [_speaker_mask(se.column("speaker"), n) for n in names]
    res = {}
    for feat, col in SERIES_COLUMNS.items():
        x = _np(se.column(col))
        a, b = x[masks[0]], x[masks[1]]
        n = min(len(a), len(b))
        try:
            res[feat] = wcc(a[:n], b[:n], rate_hz=sync_cfg.rate_hz, lag_s=sync_cfg.lag_s,
                            window_s=sync_cfg.window_s, step_s=sync_cfg.step_s, fisher_z=False,
                            absolute=False, sparse="nan")
        except ProsyncError as exc:
            res[feat] = str(exc)
    return res


def _time_binned(m: np.ndarray, cols: int = 600) -> tuple[np.ndarray, int]:
    """At most ``cols`` windows: means over runs of ``k`` neighbouring windows (NaN ignored), so
    the picture of a long session costs no more memory than a short one's. Returns (matrix, k)."""
    k = -(-m.shape[0] // cols)
    if k <= 1:
        return m, 1
    n = -(-m.shape[0] // k) * k
    pad = np.full((n - m.shape[0], m.shape[1]), np.nan)
    g = np.concatenate([m, pad]).reshape(-1, k, m.shape[1])
    ok = np.isfinite(g)
    with np.errstate(invalid="ignore"):
        return np.where(ok.any(1), np.where(ok, g, 0).sum(1) / np.maximum(ok.sum(1), 1), np.nan), k


#: Colour of windows without a correlation (too few values from one speaker), apart from r = 0.
MISSING = "#8c8c8c"


def heatmap_figure(mats: dict, duration_s: float, window_s: float, reasons=None):
    """One lag x time panel per feature, on the session's time axis (each window drawn at its
    centre), missing windows grey; ``counts`` gives each panel's finite cells."""
    import matplotlib
    from matplotlib.patches import Rectangle

    reasons = reasons or {}
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad=MISSING)
    feats = list(mats)
    fig = _figure(12, 1.9 * len(feats) + 1.0, layout="constrained")
    axes = fig.subplots(len(feats), 1, squeeze=False, sharex=True)
    im, counts = None, {}
    x1 = max(duration_s, 1e-3)
    for ax, feat in zip(axes[:, 0], feats):
        r = mats[feat]
        ax.set_title(FEATURE_LABELS.get(feat, feat), fontsize=9, loc="left")
        ax.set_ylabel("lag (s)")
        ax.set_xlim(0, x1)
        if isinstance(r, str):
            counts[feat] = 0
            ax.set_yticks([])
            _empty_note(ax, r)
            continue
        step = r.step_samples / r.rate_hz
        m, k = _time_binned(r.matrix)
        counts[feat] = int(np.isfinite(m).sum())
        c0 = r.window_start_s[0] + window_s / 2
        t0, t1 = c0 - step / 2, c0 - step / 2 + m.shape[0] * k * step
        dl = (r.lags_s[1] - r.lags_s[0]) / 2 if len(r.lags_s) > 1 else 0.05
        lo, hi = r.lags_s[0] - dl, r.lags_s[-1] + dl
        # hatched: session time no window is centred on (the first and last half window)
        ax.add_patch(Rectangle((0, lo), x1, hi - lo, fill=False, hatch="////", edgecolor="#d0d0d0",
                               lw=0, zorder=0))
        im = ax.imshow(np.ma.masked_invalid(m.T), aspect="auto", origin="lower", cmap=cmap,
                       vmin=-1, vmax=1, extent=(t0, t1, lo, hi), interpolation="nearest", zorder=1)
        ax.set_ylim(lo, hi)
        ax.axhline(0, color="k", lw=0.4, alpha=0.5, zorder=2)
        if not counts[feat]:
            _empty_note(ax, "no window with a correlation"
                        + (f": {reasons[feat]}" if reasons.get(feat) else ""))
    axes[-1, 0].set_xlabel(f"session time (s), at the centre of each {window_s:g} s window")
    if im is not None:
        cb = fig.colorbar(im, ax=axes[:, 0].tolist(), shrink=0.8, pad=0.01)
        cb.set_label("Pearson r (grey: missing)")
    fig.suptitle("windowed lagged cross-correlation (positive lag: the second speaker follows)",
                 fontsize=10)
    return _png(fig), counts


def fto_figure(ftos):
    fig = _figure(7, 2.8, layout="constrained")
    ax = fig.subplots()
    v = np.asarray(ftos, dtype=float)
    if v.size:
        lo, hi = min(-1.0, np.floor(v.min() * 10) / 10), max(1.5, np.ceil(v.max() * 10) / 10)
        ax.hist(v, bins=np.arange(lo, hi + 0.1, 0.1), color="#555", edgecolor="white")
        ax.axvline(0, color="k", lw=0.6)
        ax.axvline(float(np.median(v)), color="#d62728", lw=1, label=f"median {np.median(v):+.2f} s")
        _legend_outside(ax)
    else:
        _empty_note(ax, "no floor transfers: the speakers never took the floor from each other")
    ax.set_xlabel("floor-transfer offset (s): negative = overlap, positive = gap")
    ax.set_ylabel("count")
    ax.set_title("floor-transfer offsets")
    return _png(fig), {"fto": int(v.size)}


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;
color:#222;background:#fff}
h1{font-size:1.5em;margin-bottom:0}.meta{color:#666;font-size:.9em}
table{border-collapse:collapse;margin:8px 0 16px;font-size:.9em}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}img{max-width:100%;display:block;margin:8px 0}
.warn{color:#a15c00}.note{color:#555;font-size:.85em}
"""


#: What a one-speaker session (a mono file without an RTTM) cannot show, and the way out.
ONE_SPEAKER = ("One speaker: no floor transfers between speakers and no synchrony. A mono mix of "
               "two voices is split into its two speakers by its diarization (--rttm FILE).")


def _made_by(summary: dict) -> str:
    m = summary.get("made_by") or {}
    if not m:
        return ""
    return html.escape(f"prosync {m.get('prosync_version')} (schema {m.get('schema_version')}), "
                       f"{m.get('created_utc')} · ")


def render(out_dir: str | Path, summary: dict, names, *, config=None, title=None) -> Path:
    """Write ``report.html`` into ``out_dir`` (atomically) from the session's outputs."""
    from prosync.engine.config import Config
    from prosync.report_tables import summary_tables

    out = Path(out_dir)
    cfg = (config or Config()).sync
    dur = float(summary.get("duration_s") or 0.0)
    figs = [("Pitch and energy", contours_figure(out, names, dur)),
            ("Turn timeline", timeline_figure(out, names, dur))]
    mats = lag_matrices(out, names, cfg)
    if mats:
        reasons = {f: v.get("reason") for f, v in (summary.get("synchrony") or {}).items()}
        figs.append(("Synchrony: lag × time", heatmap_figure(mats, dur, cfg.window_s, reasons)))
    if len(names) > 1:
        figs.append(("Floor-transfer offsets",
                     fto_figure((summary.get("fto_s") or {}).get("values", []))))
    title = title or f"prosync report: {' & '.join(names)}"
    warn = "".join(f"<p class='warn'>warning: {html.escape(w)}</p>"
                   for w in summary.get("warnings", []))
    sync = (f"synchrony: {cfg.window_s:g} s windows, ±{cfg.lag_s:g} s lags, every {cfg.step_s:g} s "
            f"at {cfg.rate_hz:g} Hz · " if len(names) > 1 else "")
    body = [f"<h1>{html.escape(title)}</h1>",
            f"<p class='meta'>{dur:.1f} s scored · speakers {html.escape(', '.join(names))} · "
            f"{sync}{_made_by(summary)}output schema in the README</p>", warn,
            "" if len(names) > 1 else f"<p class='note'>{html.escape(ONE_SPEAKER)}</p>",
            "<h2>Summary</h2>", summary_tables(summary)]
    for h, (src, counts) in figs:
        # data-drawn: what each panel drew (points, bins, bars, cells), for readers and tests
        drawn = html.escape(json.dumps(counts, sort_keys=True), quote=True)
        body.append(f"<h2>{html.escape(h)}</h2>"
                    f"<img alt='{html.escape(h)}' data-drawn=\"{drawn}\" src='{src}'>")
    if len(names) > 1:
        body.append("<p class='note'>Synchrony is reported, not a goal: the clinical evidence on "
                    "“more synchrony” is mixed. Positive lag: the second speaker follows the "
                    "first.</p>")
    page = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>")
    from prosync.streams.atomic import write_text

    return write_text(out / "report.html", page)


class ReportSink(Sink):
    """``report.html`` as the last sink of a session folder: drawn on ``close(summary)`` from the
    tables the folder's Parquet sink has finished just before (place it after that sink)."""

    def __init__(self, out_dir: str | Path, names, *, config=None, title=None):
        super().__init__()
        self.out_dir, self.names, self.config, self.title = Path(out_dir), names, config, title

    def _write(self, upd) -> None:
        pass  # drawn from the finished tables

    def _close(self, summary: dict | None) -> list[Path]:
        from prosync.streams.heap import release_memory

        release_memory()  # the engine's freed heap back before the figures are drawn
        return [render(self.out_dir, summary or {}, self.names, config=self.config,
                       title=self.title)]

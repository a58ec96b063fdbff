"""Streaming IPUs of one speaker from 10 ms speech and voicing flags.

Two stages, each a bridging of the one before (all lengths in frames, gaps compared strictly):

1. **Stretches**: runs of speech frames closer than ``attach`` frames are one stretch (the silence
   of a stop closure does not split a word). A stretch with fewer than ``min_voiced`` voiced
   speech frames is dropped: breaths, lip noise, clicks and noise bursts are not speech, and they
   do not bridge anything.
   Breaths and clicks before a word: while a stretch holds no voiced frame and no loud frame
   yet, a run that starts ``breath_gap`` frames or more after the run before it starts the
   stretch anew (the runs before held no voice, stayed quiet and stood apart from it: an
   inhalation or a lip click, not the word's onset; a stop's burst right before its vowel
   stays).
2. **IPUs**: kept stretches closer than theta are one IPU (Heldner & Edlund's bridging, the
   reference rules' rule 2); an IPU shorter than ``min_frames`` is dropped.

Without voicing flags every stretch is kept, and with ``attach <= theta`` the result is rule 2
alone (plus the minimum length). The streaming state holds only the open stretch and the open IPU.
Edges ``(frame, active)`` become final in time order: an IPU's start once it is certain (a kept
stretch and the minimum length), its end once theta of silence (and no stretch that could still
join it) followed.

Onset look-back: a speech run that starts at frame ``f`` with a lead ``l`` (the VAD's
``onset_lead``: the frames before it where the energy had already risen over the background)
starts at ``f - l`` instead (never before the frame after the previous run's end: runs stay
apart, as the VAD's runs are). Leads are at most ``lead_max``; to give the same IPUs as the batch
rules on the dated-back runs, a stretch (an IPU) closes only once ``attach`` (theta) of silence
is certain even for a run dated back by ``lead_max``, and nothing before ``now - lead_max`` is
final while no speech is open.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class SpeakerIpus:
    """Streaming two-stage IPU builder for one speaker (see the module docstring)."""

    __slots__ = ("theta", "attach", "min_frames", "min_voiced", "lead_max", "breath_gap", "last", "run_end",
                 "c_start", "c_end", "c_voiced", "c_loud", "c_kept", "acc_from", "i_start", "i_end",
                 "i_running", "i_certain", "edges")

    def __init__(self, theta: int, attach: int, min_frames: int = 0, min_voiced: int = 0,
                 lead_max: int = 0, breath_gap: int = 0):
        self.theta = theta                   # frames: IPU bridging (gap < theta bridges)
        self.attach = min(attach, theta)     # frames: stretch bridging
        self.min_frames = min_frames
        self.min_voiced = min_voiced
        self.lead_max = lead_max  # frames: the longest onset look-back
        self.breath_gap = breath_gap  # frames: a voiceless lead this far apart is a breath (0: off)
        self.last = False       # speech flag of the last frame seen
        self.run_end = -1       # end of the last speech run (a run is dated back to after it)
        self.c_start = -1       # open stretch: start frame (-1: none)
        self.c_end = -1         # its end while silent (-1 while speaking)
        self.c_voiced = 0       # its voiced speech frames counted so far
        self.c_loud = False     # a loud speech frame was counted in it
        self.c_kept = False     # it has enough voicing: it belongs to an IPU
        self.acc_from = 0       # first frame of the current speech run not yet counted
        self.i_start = -1       # open IPU: start frame (-1: none)
        self.i_end = -1         # end of its last kept stretch (valid when not running)
        self.i_running = False  # a kept stretch of it is still open
        self.i_certain = False  # its start edge is out (kept and long enough)
        self.edges: deque = deque()

    # ------------------------------------------------------------------ queries

    def horizon(self, now: int) -> int:
        """Frame up to which this speaker's IPU activity is final."""
        if self.i_start >= 0:
            if not self.i_certain:
                return self.i_start
            if self.i_running:
                return now if self.c_end < 0 else self.c_end
            return self.i_end
        return self.c_start if self.c_start >= 0 else max(now - self.lead_max, self.run_end + 1)

    # ------------------------------------------------------------------ stage 2: IPUs

    def _ipu_extent(self, now: int) -> int:
        if self.i_running:
            return now if self.c_end < 0 else self.c_end
        return self.i_end

    def _check_certain(self, now: int) -> None:
        if (self.i_start >= 0 and not self.i_certain
                and self._ipu_extent(now) - self.i_start >= self.min_frames):
            self.i_certain = True
            self.edges.append((self.i_start, True))

    def _finalise_ipu(self, out: list) -> None:
        if self.i_certain:
            self.edges.append((self.i_end, False))
            out.append((self.i_start, self.i_end))
        self.i_start = -1
        self.i_running = False
        self.i_certain = False

    def _keep_stretch(self, out: list) -> None:
        """The open stretch has enough voicing: it starts or continues an IPU."""
        self.c_kept = True
        if self.i_start >= 0 and self.c_start - self.i_end < self.theta:
            self.i_running = True
            return
        if self.i_start >= 0:
            self._finalise_ipu(out)
        self.i_start = self.c_start
        self.i_running = True
        self.i_certain = False

    # ------------------------------------------------------------------ stage 1: stretches

    def _close_stretch(self) -> None:
        if self.c_kept:
            self.i_end = self.c_end
            self.i_running = False
        self.c_start = -1
        self.c_end = -1
        self.c_kept = False
        self.c_voiced = 0
        self.c_loud = False

    def _count(self, voiced, loud, k0: int, f: int, out: list) -> None:
        """Add the voiced (and loud) frames of the current speech run (all speech) up to ``f``."""
        if voiced is None:
            self.c_voiced = self.min_voiced
        elif not self.c_kept:
            a = max(self.acc_from, k0) - k0
            self.c_voiced += int(np.count_nonzero(voiced[a:f - k0]))
            if loud is not None and not self.c_loud:
                self.c_loud = bool(loud[a:f - k0].any())
        self.acc_from = f
        if not self.c_kept and self.c_voiced >= self.min_voiced:
            self._keep_stretch(out)

    def update(self, k0: int, flags: np.ndarray, voiced: np.ndarray | None, out: list,
               lead: np.ndarray | None = None, loud: np.ndarray | None = None) -> None:
        """Frames ``k0 .. k0+len(flags)-1``; final IPUs ``(start, end)`` are appended to ``out``.
        ``voiced``: the frames that count towards ``min_voiced``; ``lead``: each onset's
        look-back in frames (None: none); ``loud``: the frames too loud for a breath (None:
        none is)."""
        n = flags.shape[0]
        if n == 0:
            return
        if n == 1:  # 10 ms pushes: scalar tests
            f = bool(flags[0])
            same = f == self.last
        else:  # the common case: nothing to count (silence), or speech going on
            same = not flags.any() if not self.last else bool(flags.all())
        cv = voiced if self.min_voiced > 0 else None
        if not same:
            if n == 1:
                changes = ((0, f),)
            else:
                d = np.diff(flags.astype(np.int8), prepend=np.int8(self.last))
                changes = ((int(j), bool(d[j] > 0)) for j in np.flatnonzero(d))
            for j, starts in changes:  # Python work per change only
                f = k0 + j
                if starts:  # speech starts at frame f (dated back to s)
                    self.acc_from = f
                    s = f if lead is None else max(f - min(int(lead[j]), self.lead_max),
                                                   self.run_end + 1)
                    if self.c_start >= 0:
                        if s - self.c_end < self.attach:
                            if (cv is not None and self.c_voiced == 0 and not self.c_loud
                                    and 0 < self.breath_gap <= s - self.c_end):
                                self.c_start = s  # no voice before, and apart: a breath
                            self.c_end = -1  # the same stretch goes on
                            continue
                        self._close_stretch()
                    self._settle_ipu(f, out)
                    self.c_start = s
                    self.c_end = -1
                else:  # speech ends at frame f (exclusive end)
                    self._count(cv, loud, k0, f, out)
                    self.c_end = f
                    self.run_end = f
            self.last = bool(flags[-1])
        if self.last:
            self._count(cv, loud, k0, k0 + n, out)
        self.settle(k0 + n, out)

    # ------------------------------------------------------------------ time passing

    def _settle_ipu(self, now: int, out: list) -> None:
        if self.i_start < 0 or self.i_running:
            return
        self._check_certain(now)
        # a stretch still open and close enough may yet join the IPU
        if self.c_start >= 0 and self.c_start - self.i_end < self.theta:
            return
        if now - self.lead_max - self.i_end >= self.theta:
            self._finalise_ipu(out)

    def settle(self, now: int, out: list) -> None:
        """Close the stretch after ``attach`` of silence, the IPU after theta (both counted
        from ``lead_max`` before ``now``: a run starting now may be dated back that far)."""
        if (self.c_start >= 0 and self.c_end >= 0
                and now - self.lead_max - self.c_end >= self.attach):
            self._close_stretch()
        self._check_certain(now)
        self._settle_ipu(now, out)

    def close(self, now: int, out: list) -> None:
        """End of input at frame ``now``."""
        if self.c_start >= 0:
            if self.c_end < 0:
                self.c_end = now
            self._close_stretch()
        if self.i_start >= 0:
            self._check_certain(now)
            self._finalise_ipu(out)

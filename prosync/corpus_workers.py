"""Where ``prosync corpus`` scores its sessions: worker processes or a Dask cluster, each
session through ``score(spec, out, report, preset)`` (:func:`prosync.corpus.score_session`), and
how Ctrl-C stops them (at once: the queue cancelled, running sessions killed;
:func:`prosync.corpus.run_corpus` records them)."""

from __future__ import annotations


def _ignore_sigint() -> None:
    """Worker processes leave Ctrl-C to the parent, which stops them (see :func:`run_pool`)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_pool(score, workers, todo, out, report, preset, finished, running) -> None:
    """Score ``todo`` in ``workers`` processes. On Ctrl-C the queued sessions are cancelled and
    the running ones killed at once (their leftovers are cleaned by the next run); the sessions
    running then are left in ``running``."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ex = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                             initializer=_ignore_sigint)
    futs = {}
    try:
        futs = {ex.submit(score, s, str(out), report, preset): s for s in todo}
        pending = set(futs)
        while pending:
            done_now, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for fut in done_now:
                finished(fut.result(), futs[fut])
    except KeyboardInterrupt:
        for fut, s in futs.items():
            if fut.running():
                running[s.session] = s
        # the pool has no public kill: its private process table (stable since Python 3.2),
        # read before shutdown() clears it
        procs = list((getattr(ex, "_processes", None) or {}).values())
        ex.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            p.kill()
        raise
    ex.shutdown(wait=True)


def run_dask(score, ship, dask, todo, out, report, preset, finished, running) -> None:
    """Score ``todo`` on a Dask cluster; on Ctrl-C every future not finished is cancelled."""
    from distributed import Client, as_completed

    client = dask if not isinstance(dask, str) else Client(dask)
    futs = {}
    try:
        # a worker may run in another folder (or machine): absolute paths only
        futs = {client.submit(score, ship(s), str(out.resolve()), report, preset,
                              pure=False): s for s in todo}
        for fut in as_completed(futs):
            finished(fut.result(), futs[fut])
    except KeyboardInterrupt:
        for fut, s in futs.items():
            if fut.status == "pending":
                running[s.session] = s
        client.cancel(list(futs))
        raise
    finally:
        if isinstance(dask, str):
            client.close()

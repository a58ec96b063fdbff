"""Running the WebSocket server (``prosync serve``): kernels warmed before the first client, freed
memory handed back on an interval, one process or several sharing the port (``SO_REUSEPORT``),
stopped by SIGINT/SIGTERM. The server itself: :mod:`prosync.streams.ws_server`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import socket

from ..engine.errors import ProsyncError
from .arrow import warm as warm_arrow
from .heap import malloc_trim as _malloc_trim
from .ws_protocol import PROTOCOL_VERSION
from .ws_server import MetricsServer, ServerOptions, exposure_warning


def warm_up() -> None:
    """Load every numba kernel (from the cache) before the first client comes
    (:func:`prosync.engine.warm.warm`: its short synchrony windows load the window kernels
    too), then freeze the garbage collector's view of everything loaded so far."""
    from ..engine.session import Session
    from ..engine.warm import warm

    warm(Session)
    warm_arrow()  # pa.array's one-time imports, before the first metrics message
    # The kernels' compiler objects (numba, llvmlite) are many and long-lived: left in the
    # collected generations, each full collection scans them (50-90 ms pauses of every session
    # of the process). Freezing moves them out of the collector's way (pauses below 5 ms).
    import gc

    gc.collect()
    gc.freeze()


#: Seconds between returns of freed heap memory to the system (see :func:`_trim_memory`).
TRIM_INTERVAL_S = 10.0


async def _trim_memory() -> None:
    """Hand freed heap pages back to the system every :data:`TRIM_INTERVAL_S`.

    A finished session's buffers go back to the allocator, which keeps them: the server's RSS
    would otherwise stay at its busiest moment. One trim takes about 1.5 ms.
    """
    trim = _malloc_trim()
    if trim is None:
        return
    while True:
        await asyncio.sleep(TRIM_INTERVAL_S)
        trim(0)


async def _serve_forever(opts: ServerOptions, reuse_port: bool, ready=None,
                         signals=(signal.SIGINT, signal.SIGTERM)) -> None:
    srv = MetricsServer(opts, reuse_port=reuse_port)
    await srv.start()
    trimmer = asyncio.create_task(_trim_memory())
    if ready is not None:
        ready(srv)
    stop = asyncio.get_running_loop().create_future()
    for sig in signals:
        try:
            asyncio.get_running_loop().add_signal_handler(sig, stop.cancel)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        await stop
    except asyncio.CancelledError:
        pass
    trimmer.cancel()
    await srv.close()


def _worker(opts: ServerOptions, ready_event, log_level=None) -> None:
    if log_level is not None:  # a spawned process: the parent's logging settings, again
        from prosync.engine.logs import configure

        configure(log_level)
    # Ctrl-C reaches the whole process group; the parent alone answers it and stops each worker
    # with one SIGTERM (a worker that also took the SIGINT could get the SIGTERM while its loop
    # was closing, and Python printed an "Exception ignored ... wakeup fd" traceback)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warm_up()
    asyncio.run(_serve_forever(opts, reuse_port=True, ready=lambda srv: ready_event.set(),
                               signals=(signal.SIGTERM,)))


def _listen_error(opts: ServerOptions, exc: OSError) -> ProsyncError:
    """An address that cannot be listened on, said with its likely fix."""
    hint = {errno.EADDRINUSE: "another program listens there: stop it, or give another port= "
                              "(0: any free port)",
            errno.EACCES: "ports below 1024 need root: give a port= from 1024",
            errno.EADDRNOTAVAIL: "host= is not an address of this machine"}.get(
        exc.errno, "check host= and port=")
    why = (os.strerror(exc.errno) if isinstance(exc.errno, int) and exc.errno > 0
           else exc.strerror or str(exc))
    return ProsyncError(f"cannot listen on {opts.host}:{opts.port} ({why}): {hint}")


def _try_listen(opts: ServerOptions) -> None:
    """Bind the address once, without ``SO_REUSEPORT``, so that an address in use (also by
    another server's workers, which share their port with ``SO_REUSEPORT``) is one clear error
    here rather than a traceback in every worker or a port silently shared."""
    try:
        for fam, typ, proto, _, addr in socket.getaddrinfo(opts.host, opts.port,
                                                           type=socket.SOCK_STREAM):
            with socket.socket(fam, typ, proto) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(addr)
                s.listen()
    except OSError as exc:
        raise _listen_error(opts, exc) from None


def serve(opts: ServerOptions, announce=print) -> None:
    """Run the server until SIGINT/SIGTERM (``prosync serve``)."""
    opts.validate()
    _try_listen(opts)
    warning = exposure_warning(opts)
    if warning:
        announce(warning)
    if opts.workers == 1:
        warm_up()
        def ready(srv):
            announce(f"prosync: serving on {srv.url} (protocol {PROTOCOL_VERSION}"
                     f"{', token required' if opts.token else ''}); Ctrl-C stops")
        try:
            asyncio.run(_serve_forever(opts, reuse_port=False, ready=ready))
        except OSError as exc:
            raise _listen_error(opts, exc) from None
        return
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    events = [ctx.Event() for _ in range(opts.workers)]
    level = logging.getLogger("prosync").level or None
    procs = [ctx.Process(target=_worker, args=(opts, ev, level), daemon=True) for ev in events]
    for p in procs:
        p.start()
    for p, ev in zip(procs, events):  # announce once every worker listens
        while not ev.wait(0.2):
            if not p.is_alive():
                for q in procs:
                    if q.is_alive():
                        q.terminate()
                raise ProsyncError(f"a server worker exited (code {p.exitcode}): is port "
                                   f"{opts.port} in use?")
    announce(f"prosync: serving on ws://{opts.host}:{opts.port} with {opts.workers} worker processes "
             f"(protocol {PROTOCOL_VERSION}); Ctrl-C stops")

    def _term(*_):
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGTERM)

    old = signal.signal(signal.SIGTERM, _term)
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        _term()
        for p in procs:
            p.join(timeout=5)
    finally:
        signal.signal(signal.SIGTERM, old)

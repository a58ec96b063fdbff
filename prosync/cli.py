"""The ``prosync`` command. User errors are one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import errno
import re
import sys

from prosync.engine.errors import ProsyncError

#: Library errors name the Python parameter (``speakers=a,b``, ``rttm=``); here, its flag.
FLAGS = {"speakers": "--speakers", "channels": "--channels", "rttm": "--rttm",
         "profile": "--profile", "rate": "--rate", "devices": "--device", "manifest": "--manifest",
         "host": "--host", "port": "--port", "token": "--token", "workers": "--workers",
         "max_message_bytes": "--max-message-bytes", "queue_size": "--queue",
         "textgrid": "--textgrid", "rttm_out": "--rttm-out"}
_PARAM = re.compile(r"(?<![\w.])(" + "|".join(FLAGS) + r")=(?=(\S?))")


def cli_message(msg: str) -> str:
    """A library error message as the command line says it: ``channels=1,2`` -> ``--channels 1,2``."""
    return _PARAM.sub(lambda m: FLAGS[m[1]] + (" " if m[2] and m[2] not in ",.:;)'\"" else ""), msg)


def _parser() -> argparse.ArgumentParser:
    from prosync.commands import register_all

    p = argparse.ArgumentParser(prog="prosync", description="Prosodic synchrony between two voices.")
    p.add_argument("--version", action="version", version=f"prosync {_version()}")
    _logging_options(p, None)
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    register_all(sub)
    for cmd in sub.choices.values():  # also after the command: prosync score -v ...
        _logging_options(cmd, argparse.SUPPRESS)
    return p


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("prosync")
    except PackageNotFoundError:
        from prosync import __version__

        return __version__


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _logging_options(p, default) -> None:
    p.add_argument("-v", "--verbose", action="count", default=default if default else 0,
                   help="log more: -v for INFO (e.g. the server's connections), -vv for DEBUG")
    p.add_argument("--log-level", type=str.upper, choices=LEVELS, metavar="LEVEL",
                   default=default, help=f"log level: {', '.join(LEVELS)} (default WARNING)")


def _configure_logging(args) -> None:
    from prosync.engine.logs import configure

    level = args.log_level or ("DEBUG" if args.verbose >= 2 else "INFO" if args.verbose else "WARNING")
    configure(level)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args)
    try:
        return int(args.func(args) or 0)
    except ProsyncError as exc:
        print(f"prosync: error: {cli_message(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f" {exc.filename}:" if exc.filename else ""
        fix = ("free some disk space, or write the outputs to another disk"
               if exc.errno == errno.ENOSPC else "check the path and its permissions")
        print(f"prosync: error:{where} {exc.strerror or exc}: {fix}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("prosync: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

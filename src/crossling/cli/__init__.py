"""The ``crossling`` command: argument parsing only, one module per subcommand.

Each subcommand module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a function taking the parsed namespace. The work itself lives in the packages below;
nothing outside this package imports it.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence

from crossling.core.errors import CrosslingError, SettingError
from crossling.core.settings import as_flag
from crossling.core.version import __version__

# Subcommand modules, in the order ``crossling --help`` lists them.
COMMANDS: tuple[str, ...] = ("demo", "similarity", "retrieval", "probe", "finetune", "run",
                             "report", "model")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crossling",
        description="Find where cross-lingual transfer happens inside multilingual encoders.")
    parser.add_argument("--version", action="version", version=f"crossling {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"crossling.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: runs the subcommand; bad input ends in one ``error:`` line and exit code 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # weight-loading bars; crossling shows its own progress
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe must surface here, not in the interpreter's exit
        return code
    except CrosslingError as exc:
        if isinstance(exc, SettingError):  # lower layers name the argument, the CLI its flag
            flags = _flags(parser, args.command)
            exc = as_flag(exc, flags) if exc.name in flags else exc
        print(f"crossling: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("crossling: interrupted; finished work is kept, rerun to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `crossling run STUDY --dry-run | head`: the reader left; say nothing more. Point stdout
        # at /dev/null so that Python's own flush at exit does not raise again (Python docs,
        # "Note on SIGPIPE").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except sqlite3.OperationalError as exc:
        if "disk is full" not in str(exc):
            raise
        print("crossling: error: results store: disk full (no space left on device)",
              file=sys.stderr)
        return 2
    except OSError as exc:
        line = _os_error_line(exc)
        if line is None:
            raise
        print(f"crossling: error: {line}", file=sys.stderr)
        return 2


def _flags(parser: argparse.ArgumentParser, command: str) -> dict[str, str]:
    """The long flag of each option of ``command``, by the name its value is stored under."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a.option_strings[-1] for a in sub.choices[command]._actions
            if a.option_strings}


_PATH_ERRORS = (PermissionError, FileExistsError, FileNotFoundError, NotADirectoryError,
                IsADirectoryError)


def _os_error_line(exc: OSError) -> str | None:
    """``<path>: <reason>`` for an error about a file or folder (an unwritable output folder,
    a file in the way of one, a full disk); None for other OS errors, which stay tracebacks."""
    if exc.errno == errno.ENOSPC:
        where = "" if exc.filename is None else f"{exc.filename}: "
        return f"{where}disk full (no space left on device)"
    if exc.filename is None and not isinstance(exc, _PATH_ERRORS):
        return None
    reason = exc.strerror or str(exc)
    if exc.filename is None:
        return reason
    where = f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else \
        f"{exc.filename}"
    return f"{where}: {reason}"

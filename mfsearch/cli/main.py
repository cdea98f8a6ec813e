"""Entry point: build the argument parser from the command modules and turn user errors into
one-line messages with exit code 2 (never a traceback)."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from .. import __version__
from ..compat import DefaultsHelpFormatter
from ..errors import UserError
from ..jobs.common import quiet_libraries
from . import analysis, attention, bench, deploy, latency, reporting, search, spaces, train


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        raise UserError(message)  # main() adds the one "mfsearch: error:" prefix


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mfsearch", description="Exact cost analysis and architecture search "
                     "for Mobile-Former networks (and iFormer).")
    parser.add_argument("--version", action="version", version=f"mfsearch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in (analysis, bench, latency, deploy, search, train, spaces, reporting,
                   attention):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    try:
        argv = sys.argv[1:] if argv is None else argv
        args = build_parser().parse_args(argv)
        args.argv = argv  # reports quote the command as it was given
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"mfsearch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("mfsearch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): no traceback, and the shell's code for SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())

"""Command line: ``cnnlab`` opens the app; ``cnnlab data ...`` manages datasets."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "data":
        from cnnlab.data.cli import main as data_main

        return data_main(argv[1:])
    from cnnlab.app.main_window import run_app

    return run_app(argv)


if __name__ == "__main__":
    raise SystemExit(main())

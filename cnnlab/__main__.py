"""Command line: ``cnnlab`` opens the app; ``cnnlab train|evaluate|export|presets`` work in the
terminal (``cnnlab.cli``); ``cnnlab data ...`` manages datasets."""

from __future__ import annotations

import argparse
import os
import sys

from cnnlab import __version__

#: the terminal commands and what they do, as ``cnnlab --help`` lists them
COMMANDS = {
    "train": "train a preset, an architecture JSON or a saved model on a dataset",
    "evaluate": "accuracy, per-class precision/recall and confusion matrix of a model",
    "export": "write a model as PyTorch code + safetensors weights, or as ONNX",
    "presets": "list the preset networks",
    "data": "list and download datasets",
}


def _no_display_problem() -> str | None:
    """Why Qt could not open a window here, or None (Qt itself aborts the process)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("cnnlab needs a display: none is set (DISPLAY / WAYLAND_DISPLAY). On a machine "
            "without a desktop run it as `xvfb-run -a cnnlab` (Debian/Ubuntu package xvfb).")


def leave_a_core_for_the_window(environ=os.environ) -> None:
    """Let the matrix products use every core but one, so the window's thread always has a
    core while training runs. On a busy 2-core laptop, OpenBLAS threads that spin-wait
    for each other otherwise take the core the GUI needs (measured: 4x slower steps and
    130 ms stalls). Must run before NumPy is imported; a value the user set wins."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    threads = str(max(1, cores - 1))
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        environ.setdefault(name, threads)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "data":
        from cnnlab.data.cli import main as data_main

        return data_main(argv[1:])
    if argv and argv[0] in COMMANDS:
        from cnnlab.cli import main as cli_main

        return cli_main(argv)
    if argv and not argv[0].startswith("-"):
        print(f"cnnlab: unknown command {argv[0]!r}; commands: {', '.join(COMMANDS)} "
              "(`cnnlab --help`)", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(
        prog="cnnlab", usage=f"cnnlab [-h] [--version] {{{','.join(COMMANDS)}}} ...",
        description="A desktop lab for learning how convolutional networks work.\n"
        "Without arguments it opens the app; `cnnlab COMMAND --help` explains a command\n"
        "(`cnnlab data --help` lists and downloads datasets).",
        epilog="commands:\n" + "\n".join(f"  {name:<9} {text}" for name, text in COMMANDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"cnnlab {__version__}")
    parser.add_argument("--reset-settings", action="store_true",
                        help="forget the saved window layout and every tab's settings, then exit")
    parser.add_argument("--start-training", action="store_true",
                        help="start training as soon as the window is up (demos, tests)")
    parser.add_argument("--quit-after", type=int, metavar="MS",
                        help="close the window MS milliseconds after start (demos, tests)")
    args, qt_args = parser.parse_known_args(argv)  # the rest (e.g. -platform) goes to Qt
    if args.reset_settings:
        from cnnlab.app.settings import reset

        print(f"cnnlab: saved settings cleared ({reset()})")
        return 0
    problem = _no_display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if "numpy" not in sys.modules:
        leave_a_core_for_the_window()
    from cnnlab.app.startup import run_app

    return run_app(qt_args, start_training=args.start_training, quit_after_ms=args.quit_after)


if __name__ == "__main__":
    raise SystemExit(main())

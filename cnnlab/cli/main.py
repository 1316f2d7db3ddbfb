"""Parse ``cnnlab COMMAND ...`` and run the command; errors become one line and exit 1."""

from __future__ import annotations

import argparse
import sys

from cnnlab.cli import commands, train

#: command -> one line of help (``data`` is dispatched by ``cnnlab.__main__``)
COMMANDS = {
    "train": "train a preset, an architecture JSON or a saved model on a dataset",
    "evaluate": "accuracy, per-class precision/recall and the confusion matrix of a model",
    "export": "write a model as PyTorch code + safetensors weights, or as ONNX",
    "presets": "list the preset networks",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnlab", description="Train, evaluate and export cnnlab models from the terminal.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    p = sub.add_parser("train", help=COMMANDS["train"], description=train.__doc__.split("\n")[0])
    train.add_arguments(p)
    p.set_defaults(run=train.run)
    p = sub.add_parser("evaluate", help=COMMANDS["evaluate"], description=COMMANDS["evaluate"])
    commands.add_evaluate_arguments(p)
    p.set_defaults(run=commands.evaluate)
    p = sub.add_parser("export", help=COMMANDS["export"], description=COMMANDS["export"])
    commands.add_export_arguments(p)
    p.set_defaults(run=commands.export)
    p = sub.add_parser("presets", help=COMMANDS["presets"], description=COMMANDS["presets"])
    p.set_defaults(run=commands.presets)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``cnnlab COMMAND ...``; returns the exit code (argparse exits 2 on bad usage)."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError, ImportError) as exc:  # DatasetError, ModelFileError are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130

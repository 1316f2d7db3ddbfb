"""The terminal commands: ``cnnlab train | evaluate | export | presets`` (Qt-free).

They run what the app runs: the same ``Trainer``, the same analysis as the Experiments tab,
the same exporters as File ▸ Export. ``cnnlab data ...`` lives in ``cnnlab.data.cli``.
"""

from cnnlab.cli.main import COMMANDS, build_parser, main

__all__ = ["COMMANDS", "build_parser", "main"]

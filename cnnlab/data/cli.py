"""``python -m cnnlab data``: see what is cached and download the full datasets."""

from __future__ import annotations

import argparse
import sys
import time

from cnnlab.data import sources
from cnnlab.data.cache import resolve_cache_dir
from cnnlab.data.datasets import sample_path
from cnnlab.data.download import cache_report, download_dataset
from cnnlab.data.errors import DatasetError


def _mb(n: int) -> str:
    """A byte count for people: 9.9 MB, 28.9 kB, 512 B."""
    if n >= 1e6:
        return f"{n / 1e6:.1f} MB"
    return f"{n / 1e3:.1f} kB" if n >= 1e3 else f"{n} B"


class TextProgress:
    """A one-line progress bar on ``stream``: redrawn in place on a terminal, every 10% otherwise."""

    def __init__(self, label: str, stream=None, width: int = 30):
        self.label, self.stream, self.width = label, stream or sys.stderr, width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_draw = 0.0
        self._last_decile = -1
        self.drawn = False  # whether a line was written (so errors start on a fresh line)

    def __call__(self, done: int, total: int | None) -> None:
        fraction = min(done / total, 1.0) if total else 0.0
        finished = bool(total) and done >= total
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw < 0.1 and not finished:
                return
            self._last_draw = now
        else:
            decile = int(fraction * 10)
            if decile == self._last_decile:
                return
            self._last_decile = decile
        filled = int(round(fraction * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        size = f"{_mb(done)} / {_mb(total)}" if total else _mb(done)
        line = f"{self.label} [{bar}] {fraction:4.0%}  {size}"
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        self.drawn = True
        if self.tty and finished:
            self.stream.write("\n")
        self.stream.flush()


def _list(args) -> int:
    cache = resolve_cache_dir(args.cache_dir)
    print(f"cache folder: {cache}")
    for entry in cache_report(args.cache_dir):
        extra = (f"{_mb(entry.bytes_present)} of {_mb(entry.size)}" if entry.state == "partial"
                 else _mb(entry.size))
        print(f"  {entry.dataset:<8} {entry.filename:<28} {entry.state:<9} {extra}")
    for name in ("mnist", "cifar10"):
        path = sample_path(name)
        print(f"  {name:<8} {'(bundled sample)':<28} {'present' if path.is_file() else 'MISSING':<9} {path}")
    return 0


def _download(args) -> int:
    names = list(sources.DATASETS) if args.dataset == "all" else [args.dataset]
    for name in names:
        progress = TextProgress(f"{name:<8}")
        try:
            folder = download_dataset(name, args.cache_dir, progress=progress, timeout=args.timeout)
        except KeyboardInterrupt:
            print(f"\n{name}: interrupted; run the same command again to resume", file=sys.stderr)
            return 130
        except DatasetError as exc:
            fresh_line = "\n" if progress.tty and progress.drawn else ""
            print(f"{fresh_line}error: {exc}", file=sys.stderr)
            print("The bundled samples still work offline: load_mnist('sample'), load_cifar10('sample').",
                  file=sys.stderr)
            return 1
        print(f"{name}: ready in {folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cache-dir", metavar="DIR", default=argparse.SUPPRESS,
                        help="dataset cache folder (default: $CNNLAB_CACHE or the per-user cache folder)")
    parser = argparse.ArgumentParser(prog="cnnlab data", parents=[common],
                                     description="List and download the datasets cnnlab trains on.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{list,download}")
    p_list = sub.add_parser("list", parents=[common], help="show what is cached and the bundled samples")
    p_list.set_defaults(run=_list)
    p_dl = sub.add_parser("download", parents=[common],
                          help="download full MNIST / CIFAR-10 into the cache (checksummed, resumable)")
    p_dl.add_argument("dataset", choices=[*sources.DATASETS, "all"])
    p_dl.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds (default 30)")
    p_dl.set_defaults(run=_download)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m cnnlab data``; returns the process exit code."""
    args = build_parser().parse_args(argv)
    args.cache_dir = getattr(args, "cache_dir", None)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())

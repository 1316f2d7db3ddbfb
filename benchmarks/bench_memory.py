"""Memory of the app over repeated everyday actions, a dataset switch, and loading.

    python benchmarks/bench_memory.py            # full-size generated files, 10 repetitions (~10 min)
    python benchmarks/bench_memory.py --quick    # small generated files, 3 repetitions (~2 min)

Three measurements, each in a fresh process (``QT_QPA_PLATFORM=offscreen``), all as the
resident set size (RSS, from ``/proc/self/statm``) after the event loop has delivered
every pending signal and deletion and the garbage collector has run:

1. **Repeated actions** (the real main window on the bundled MNIST sample and its default
   model): Experiments ▸ Recompute (analysis of the 1,000 test images), a sweep (2 cells,
   1,000 images, 1 epoch) and a data-size curve (fractions 0.25, 0.5, 1; 1 epoch; with the
   logistic baseline), each ``--reps`` times. The growth after the second repetition should
   be ~0 (the first ones warm up caches, pyqtgraph items, BLAS buffers).
2. **Dataset switch**: RSS at a fresh start (sample loaded), after opening generated
   full-size MNIST from a folder and running an analysis, a sweep and a data-size curve on
   it, then after choosing the MNIST sample again; likewise full-size CIFAR-10 (binary
   folder, the CIFAR-10 net, an analysis) and back. Each RSS is compared with the fresh
   start plus the difference in dataset size; back on the sample it should be within 10 %.
3. **Loading peak per format**: each format read in its own process; the peak is
   ``VmHWM`` (reset through ``/proc/self/clear_refs``) minus the RSS before the call, the
   kept memory the RSS after minus before, beside the size of the arrays returned.

The files are generated (random images of the real shapes and the real file layouts:
IDX raw and gzip, Keras ``mnist.npz``, the assignment's four ``.mat`` files, CIFAR-10's
binary and python tarballs and folders) into a temporary folder, or ``--files DIR``.
Prints Markdown tables; ``--json`` also writes the raw numbers.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")
CIFAR_NET = "CIFAR-10 net (32-64 conv, 128 dense)"


# ------------------------------------------------------------------ measuring
def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def peak_rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


# ---------------------------------------------------------------- generating
def _idx(array: np.ndarray) -> bytes:
    code = 0x08  # unsigned byte
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _digits(rng, n: int) -> np.ndarray:
    """Digit-like uint8 images: mostly background, a blob of ink (compresses like MNIST)."""
    x = np.zeros((n, 28, 28), dtype=np.uint8)
    ink = rng.integers(0, 256, (n, 14, 14), dtype=np.uint8)
    x[:, 7:21, 7:21] = np.where(ink > 140, ink, 0)
    return x


def generate_files(folder: Path, quick: bool) -> dict[str, tuple[str, str]]:
    """Write every format (unless ``folder`` holds a complete set of the same size already);
    returns ``{label: (kind, path)}``."""
    import scipy.io

    done = folder / f"complete-{'quick' if quick else 'full'}.json"
    if done.exists():
        return json.loads(done.read_text())

    rng = np.random.default_rng(0)
    n_mnist = (6000, 1000) if quick else (60000, 10000)
    n_cifar = (5000, 1000) if quick else (50000, 10000)
    out: dict[str, tuple[str, str]] = {"MNIST sample": ("mnist", "sample"),
                                       "CIFAR-10 sample": ("cifar10", "sample")}
    xtr, xte = _digits(rng, n_mnist[0]), _digits(rng, n_mnist[1])
    ytr, yte = rng.integers(0, 10, n_mnist[0]), rng.integers(0, 10, n_mnist[1])
    files = {"train-images-idx3-ubyte": _idx(xtr), "train-labels-idx1-ubyte": _idx(ytr),
             "t10k-images-idx3-ubyte": _idx(xte), "t10k-labels-idx1-ubyte": _idx(yte)}
    for sub, gz in (("mnist-idx", False), ("mnist-idx-gz", True)):
        d = folder / sub
        d.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            if gz:
                with gzip.open(d / f"{name}.gz", "wb", compresslevel=1) as f:
                    f.write(data)
            else:
                (d / name).write_bytes(data)
        out[f"MNIST IDX{' .gz' if gz else ''} folder"] = ("mnist", str(d))
    np.savez_compressed(folder / "mnist.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    out["MNIST Keras mnist.npz"] = ("mnist", str(folder / "mnist.npz"))
    mat = folder / "mnist-mat"
    mat.mkdir(exist_ok=True)
    for name, value in (("train_images", xtr.reshape(len(xtr), -1).T),
                        ("train_labels", ytr.reshape(-1, 1).astype(np.float64)),
                        ("test_images", xte.reshape(len(xte), -1).T),
                        ("test_labels", yte.reshape(-1, 1).astype(np.float64))):
        scipy.io.savemat(mat / f"{name}.mat", {name: value})
    out["MNIST four .mat files"] = ("mnist", str(mat))

    cx = [rng.integers(0, 256, (n, 3072), dtype=np.uint8) for n in (n_cifar[0], n_cifar[1])]
    cy = [rng.integers(0, 10, n) for n in (n_cifar[0], n_cifar[1])]
    per = n_cifar[0] // 5
    batches = [(f"data_batch_{i + 1}", cx[0][i * per:(i + 1) * per], cy[0][i * per:(i + 1) * per])
               for i in range(5)] + [("test_batch", cx[1], cy[1])]
    names = "\n".join(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                       "ship", "truck"]) + "\n"
    binary = folder / "cifar-10-batches-bin"
    binary.mkdir(exist_ok=True)
    for name, x, y in batches:
        records = np.concatenate([y.astype(np.uint8)[:, None], x], axis=1)
        (binary / f"{name}.bin").write_bytes(records.tobytes())
    (binary / "batches.meta.txt").write_text(names)
    out["CIFAR-10 binary folder"] = ("cifar10", str(binary))
    with tarfile.open(folder / "cifar-10-binary.tar.gz", "w:gz", compresslevel=1) as tar:
        tar.add(binary, arcname="cifar-10-batches-bin")
    out["CIFAR-10 binary .tar.gz"] = ("cifar10", str(folder / "cifar-10-binary.tar.gz"))
    python = folder / "cifar-10-batches-py"
    python.mkdir(exist_ok=True)
    for name, x, y in batches:
        batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in y], b"data": x,
                 b"filenames": [f"img_{i}.png".encode() for i in range(len(y))]}
        (python / name).write_bytes(pickle.dumps(batch, protocol=4))  # protocol 2 doubles the bytes
    with tarfile.open(folder / "cifar-10-python.tar.gz", "w:gz", compresslevel=1) as tar:
        tar.add(python, arcname="cifar-10-batches-py")
    out["CIFAR-10 python .tar.gz"] = ("cifar10", str(folder / "cifar-10-python.tar.gz"))
    done.write_text(json.dumps(out))
    return out


# -------------------------------------------------------------------- loading
def load_one(kind: str, source: str) -> dict:
    """Child process: the peak and kept memory of one ``load_dataset`` call."""
    from cnnlab.app.session import load_dataset

    gc.collect()
    before = rss()
    reset_peak()
    t0 = time.perf_counter()
    ds = load_dataset(kind, source)
    seconds = time.perf_counter() - t0
    peak = peak_rss()
    gc.collect()
    after = rss()
    data = sum(a.nbytes for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test))
    return {"name": ds.name, "data": data, "peak": peak - before, "kept": after - before,
            "seconds": seconds, "train": len(ds.x_train), "test": len(ds.x_test)}


# ----------------------------------------------------------------- the window
class Window:
    """The real main window, driven the way a user drives it."""

    def __init__(self):
        from PyQt6.QtCore import QSettings
        from PyQt6.QtWidgets import QApplication

        from cnnlab.app.main_window import MainWindow
        from cnnlab.app.session import Session
        from cnnlab.app.startup import load_startup_state

        self.app = QApplication.instance() or QApplication(sys.argv[:1])
        self.session = Session()
        load_startup_state(self.session)
        self.tmp = tempfile.mkdtemp()
        settings = QSettings(str(Path(self.tmp) / "bench.ini"), QSettings.Format.IniFormat)
        self.window = MainWindow(self.session, settings)
        self.window.resize(1280, 800)
        self.window.show()
        self.experiments = self.window.experiments_panel
        self.window.tabs.setCurrentWidget(self.experiments)
        self.settle()

    def wait(self, done, timeout_s: float = 1800.0) -> None:
        end = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > end:
                raise TimeoutError("a job did not finish in time")
            self.app.processEvents()
            time.sleep(0.005)

    def settle(self) -> int:
        """Deliver everything pending, run deferred deletions and the GC; the RSS."""
        for _ in range(5):  # at the top level, processEvents also runs deferred deletions
            self.app.processEvents()
            time.sleep(0.01)
        gc.collect()
        return rss()

    def live_jobs(self) -> int:
        from cnnlab.app.jobs import Job

        return sum(isinstance(o, Job) for o in gc.get_objects())

    def _run(self, start, signal) -> None:
        done = []
        signal.connect(lambda *_: done.append(1))
        if not start():
            raise RuntimeError(f"{start.__name__} refused to start: "
                               f"{self.experiments.analysis.jobs.status.text()}")
        self.wait(lambda: done and not self.session.running_jobs())

    def analysis(self) -> None:
        view = self.experiments.analysis
        self.experiments.tabs.setCurrentWidget(view)
        self._run(view.recompute, view.computed)

    def sweep(self, images: int = 1000) -> None:
        view = self.experiments.sweeps
        view.lr_values.setText("0.01, 0.05")
        view.b_values.setText("0")
        view.subset.setValue(images)
        view.form.epochs.setValue(1)
        self._run(view.run_sweep, view.sweep_done)

    def data_size(self, fractions: str = "0.25, 0.5, 1", baseline: bool = True) -> None:
        view = self.experiments.data_size
        view.fractions.setText(fractions)
        view.form.epochs.setValue(1)
        view.with_baseline.setChecked(baseline)
        self._run(view.run_curve, view.curve_done)

    def open_dataset(self, kind: str, source: str) -> None:
        actions = self.window.data_actions
        before = [self.session.dataset]
        actions.choose(kind, source)
        self.wait(lambda: self.session.dataset is not before[0] and not self.session.running_jobs())
        before.clear()


def repeat_part(reps: int, quick: bool) -> dict:
    w = Window()
    rows = {"fresh start": [w.settle()]}
    actions = [("analysis (1,000 test images)", w.analysis),
               ("sweep (2 cells × 1,000 images)", w.sweep),
               ("data-size curve + baseline", (lambda: w.data_size("0.5", True)) if quick
                else w.data_size)]
    for label, action in actions:
        rows[label] = []
        for i in range(reps):
            t0 = time.perf_counter()
            action()
            rows[label].append(w.settle())
            print(f"{label} #{i + 1}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    rows["live Job objects at the end"] = [w.live_jobs()]
    w.session.shutdown()
    return rows


def switch_part(files: dict, quick: bool) -> list[tuple[str, int, int]]:
    from cnnlab.lab.presets import build_preset

    w = Window()
    out = []

    def note(what: str) -> None:
        w.wait(lambda: not w.session.running_jobs())  # e.g. the analysis a switch restarts
        print(f"{time.strftime('%X')} {what}", file=sys.stderr)
        ds = w.session.dataset
        data = sum(a.nbytes for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test))
        out.append((what, w.settle(), data))

    note("fresh start (MNIST sample)")
    w.analysis()
    w.sweep(1000)
    w.data_size("0.5", baseline=True)
    note("warmed up: an analysis, a sweep and a data-size curve on the sample")
    w.open_dataset(*files["MNIST IDX .gz folder"])
    note(f"opened {w.session.dataset.name}")
    w.analysis()
    w.sweep(1000)
    w.data_size("0.05, 0.1", baseline=not quick)
    note("after an analysis, a sweep and a data-size curve on it")
    w.open_dataset("mnist", "sample")
    note("back on the MNIST sample")
    default_model, default_name = w.session.model, w.session.model_name
    w.session.set_model(build_preset(CIFAR_NET), CIFAR_NET)
    w.open_dataset(*files["CIFAR-10 binary folder"])
    w.window.tabs.setCurrentWidget(w.window.kernels_panel)  # its photos follow the dataset
    note(f"opened {w.session.dataset.name}")
    w.window.tabs.setCurrentWidget(w.experiments)
    w.analysis()
    note("after an analysis on it")
    w.open_dataset("mnist", "sample")
    w.session.set_model(default_model, default_name)
    note("back on the MNIST sample")
    w.session.shutdown()
    return out


# -------------------------------------------------------------------- report
def child(args: list[str]) -> object:
    cmd = [sys.executable, str(Path(__file__).resolve())] + args
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    if args[1] != "load":
        sys.stderr.write(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def mb(n: float) -> str:
    return f"{n / MB:,.0f}"


def report(repeats: dict, switch: list, loads: dict, quick: bool) -> str:
    lines = [f"### Memory ({'--quick' if quick else 'full size'}; RSS in MB)", ""]
    reps = max(len(v) for k, v in repeats.items() if k != "fresh start")
    lines += ["| action, repeated | " + " | ".join(str(i + 1) for i in range(reps))
              + " | growth after the 2nd |", "|---" * (reps + 2) + "|"]
    for label, values in repeats.items():
        if label in ("fresh start", "live Job objects at the end"):
            continue
        growth = values[-1] - values[1] if len(values) > 1 else 0
        lines.append(f"| {label} | " + " | ".join(mb(v) for v in values)
                     + f" | {'+' if growth >= 0 else '−'}{mb(abs(growth))} |")
    lines += ["", f"Fresh start {mb(repeats['fresh start'][0])} MB; live `Job` objects after "
                  f"all repetitions: {repeats['live Job objects at the end'][0]}.", ""]
    fresh, fresh_data = switch[0][1], switch[0][2]
    lines += ["| dataset switch | RSS | dataset arrays | vs fresh start + data |", "|---|---:|---:|---:|"]
    for what, value, data in switch:
        expected = fresh - fresh_data + data  # a fresh start holding this dataset instead
        lines.append(f"| {what} | {mb(value)} | {mb(data)} | {100 * (value / expected - 1):+.0f} % |")
    lines += ["", "| loading (`load_dataset`) | images | arrays | peak | peak / arrays | kept | s |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for label, r in loads.items():
        if "error" in r:
            lines.append(f"| {label} | – | – | – | – | – | {r['error'][:60]} |")
            continue
        lines.append(f"| {label} | {r['train']:,} + {r['test']:,} | {mb(r['data'])} | "
                     f"{mb(r['peak'])} | {r['peak'] / max(r['data'], 1):.2f}× | {mb(r['kept'])} | "
                     f"{r['seconds']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small files, 3 repetitions")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 10, quick 3)")
    parser.add_argument("--files", type=Path, help="generate the files here, or reuse them (kept)")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    parser.add_argument("--part", choices=["repeat", "switch", "load"], help=argparse.SUPPRESS)
    parser.add_argument("--load", nargs=2, metavar=("KIND", "SOURCE"), help=argparse.SUPPRESS)
    parser.add_argument("--files-json", help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help="print the tables of a --json file again")
    args = parser.parse_args(argv)
    reps = args.reps or (3 if args.quick else 10)

    if args.report:
        raw = json.loads(args.report.read_text())
        print(report(raw["repeat"], raw["switch"], raw["load"], args.quick))
        return 0
    if args.part == "load":
        print(json.dumps(load_one(*args.load)))
        return 0
    if args.part == "repeat":
        print(json.dumps(repeat_part(reps, args.quick)))
        return 0
    if args.part == "switch":
        print(json.dumps(switch_part(json.loads(args.files_json), args.quick)))
        return 0

    folder = args.files or Path(tempfile.mkdtemp(prefix="cnnlab-bench-memory-"))
    t0 = time.perf_counter()
    files = generate_files(folder, args.quick)
    print(f"generated the files in {folder} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    quick = ["--quick"] if args.quick else []
    loads = {}
    for label, (kind, source) in files.items():
        try:
            loads[label] = child(["--part", "load", "--load", kind, source])
        except RuntimeError as exc:
            loads[label] = {"error": str(exc).strip().splitlines()[-1]}
        print(f"loaded {label}", file=sys.stderr)
    switch = child(["--part", "switch", "--files-json", json.dumps(files)] + quick)
    print("dataset switch done", file=sys.stderr)
    repeats = child(["--part", "repeat", "--reps", str(reps)] + quick)
    text = report(repeats, switch, loads, args.quick)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"repeat": repeats, "switch": switch, "load": loads}))
    if args.files is None:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

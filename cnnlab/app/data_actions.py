"""Choosing, downloading and opening datasets: the Data menu and the Train tab's combo.

Everything slow (parsing a full set, downloading) runs as a session job with
progress and Cancel; a failure shows a message and leaves the current dataset
(the bundled sample at first) in place.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QFileDialog, QWidget

from cnnlab.app.jobs import Job, JobCancelled, JobContext, JobKind
from cnnlab.app.session import DatasetBundle, Session, dataset_name, load_dataset
from cnnlab.app.widgets import show_error
from cnnlab.data.streams import reading_progress

KINDS = {"mnist": "MNIST", "cifar10": "CIFAR-10"}
SAMPLE_SIZES = {"mnist": "4,000 / 1,000 digits", "cifar10": "20 test photos"}
FULL_SIZES = {"mnist": ("60,000 / 10,000", "11 MB"), "cifar10": ("50,000 / 10,000", "163 MB")}


def is_cached(kind: str) -> bool:
    """True when the full set is completely in the download cache."""
    from cnnlab.data.download import missing_files

    try:
        return not missing_files(kind)
    except (OSError, ValueError):
        return False


#: decoded bytes of a full set (images + labels), for the reading phase's progress bar
FULL_BYTES = {"mnist": 70_000 * (28 * 28 + 1), "cifar10": 60_000 * (3 * 32 * 32 + 1)}


def _reading_reporter(ctx: JobContext, kind: str, text: str, start: float):
    """A ``reading_progress`` callback: the bar from ``start`` to 100 % as the bytes of a
    full-size set are decoded (a smaller set ends early), and Cancel honoured per chunk."""
    done = [0]

    def on_read(n: int) -> None:
        if ctx.should_stop():
            raise JobCancelled
        done[0] += n
        fraction = min(done[0] / FULL_BYTES[kind], 0.99)
        ctx.progress(start + (1 - start) * fraction, 1.0, text)

    return on_read


def fetch_and_load(kind: str, source: str, ctx: JobContext, download: bool) -> DatasetBundle:
    """Job body: download (when asked; the first 80 % of the bar, by bytes) and parse a
    dataset (the rest of the bar, by decoded bytes; Cancel stops it within a chunk),
    saying which phase it is in."""
    from cnnlab import data
    from cnnlab.data.download import DownloadCancelled

    label = KINDS[kind]
    if source != "full":
        where = f"…/{Path(source).name or source}"
        with reading_progress(_reading_reporter(ctx, kind, f"reading {label} from {where}", 0.0)):
            return load_dataset(kind, source)
    share = 0.8 if download else 0.0

    def progress(done: int, total: int) -> None:
        if not total:
            return
        text = (f"{label}: {done / 1e6:.1f} / {total / 1e6:.1f} MB" if done < total
                else f"{label}: downloaded, reading the files…")
        ctx.progress(share * done / total, 1.0, text)

    ctx.progress(0, 1, f"{label}: connecting…" if download else f"reading {label} from the cache…")
    loader = data.load_mnist if kind == "mnist" else data.load_cifar10
    try:
        with reading_progress(_reading_reporter(ctx, kind, f"{label}: reading the files…", share)):
            (xtr, ytr), (xte, yte) = loader("full", download=download, progress=progress,
                                            cancel=ctx.should_stop)
    except DownloadCancelled:
        raise JobCancelled from None
    classes = data.MNIST_CLASSES if kind == "mnist" else data.CIFAR10_CLASSES
    return DatasetBundle(dataset_name(label, "full", len(xtr), len(xte)), "full", kind,
                         xtr, ytr, xte, yte, tuple(classes))


class DatasetActions(QObject):
    """Dataset choices for the Data menu and the Train tab; owns no threads."""

    options_changed = pyqtSignal()
    job_started = pyqtSignal(object)  # Job (downloads and full loads)

    def __init__(self, session: Session, parent_widget: QWidget | None = None):
        super().__init__(parent_widget)
        self.session = session
        self.parent_widget = parent_widget
        self.browser = None  # Data ▸ Browse…, made on first use
        self.opened: list[tuple[str, str]] = []  # (kind, path) the user opened
        self.job: Job | None = None  # the running load or download (None once it ends)

    def options(self) -> list[tuple[str, str, str]]:
        """``(label, kind, source)`` for every dataset the user can pick now."""
        out = []
        for kind, label in KINDS.items():
            out.append((f"{label} sample ({SAMPLE_SIZES[kind]})", kind, "sample"))
            sizes, mb = FULL_SIZES[kind]
            note = "cached" if is_cached(kind) else f"download {mb}"
            out.append((f"{label} full ({sizes}, {note})", kind, "full"))
        for kind, path in self.opened:
            name = Path(path).name  # a long folder name must not widen the dataset combo
            out.append((f"{KINDS[kind]}: {name if len(name) <= 32 else name[:31] + '…'}", kind, path))
        return out

    def choose(self, kind: str, source: str) -> Job | None:
        """Make ``(kind, source)`` the session's dataset. Samples load at once;
        full sets and files load (and download, if needed) in a job, returned."""
        if self.session.is_training:
            show_error(self.parent_widget, "Dataset", "Stop training before changing the dataset.")
            return None
        if self.job is not None and self.job.running:
            show_error(self.parent_widget, "Dataset", f"Still busy: {self.job.name}. Cancel it first.")
            return None
        if source == "sample":
            try:
                self.session.set_dataset(load_dataset(kind, "sample"))
            except (OSError, ValueError) as exc:
                show_error(self.parent_widget, "Could not load the sample", str(exc))
            return None
        download = source == "full" and not is_cached(kind)
        name = f"download {KINDS[kind]}" if download else f"load {KINDS[kind]} {Path(source).name}"
        job = self.session.run_job(name, lambda ctx: fetch_and_load(kind, source, ctx, download),
                                   JobKind.DATASET)
        job.finished.connect(self._loaded)
        job.failed.connect(lambda msg: self._failed(kind, source, msg))
        job.cancelled.connect(lambda _p: self.session.status_message.emit(f"{name}: cancelled"))
        job.done.connect(self._job_done)
        self.job = job
        self.job_started.emit(job)
        return job

    def _job_done(self) -> None:
        if self.sender() is self.job:
            self.job = None  # the session deletes it; its result is the session's dataset now
        self.options_changed.emit()

    def _loaded(self, bundle: DatasetBundle) -> None:
        if bundle.source not in ("sample", "full"):
            entry = (bundle.kind, bundle.source)
            if entry not in self.opened:
                self.opened.append(entry)
        try:
            self.session.set_dataset(bundle)
        except RuntimeError as exc:  # training started meanwhile
            show_error(self.parent_widget, "Dataset", str(exc))

    def _failed(self, kind: str, source: str, message: str) -> None:
        current = self.session.dataset.name if self.session.dataset else "no dataset"
        what = f"full {KINDS[kind]}" if source == "full" else source
        show_error(self.parent_widget, "Dataset not available",
                   f"Could not load {what}:\n{message}\n\nStill using: {current}.")

    def open_files(self, kind: str) -> Job | None:
        """Ask for a file (IDX, .npz, .mat, CIFAR tarball or batch) and load it."""
        filters = ("MNIST files (*.gz *.idx* *-ubyte *.npz *.mat);;All files (*)" if kind == "mnist"
                   else "CIFAR-10 files (*.tar.gz *.bin data_batch_* test_batch*);;All files (*)")
        path, _ = QFileDialog.getOpenFileName(self.parent_widget, f"Open {KINDS[kind]} data",
                                              str(Path.home()), filters)
        return self.choose(kind, path) if path else None

    def open_folder(self, kind: str) -> Job | None:
        path = QFileDialog.getExistingDirectory(self.parent_widget,
                                                f"Open a folder of {KINDS[kind]} files", str(Path.home()))
        return self.choose(kind, path) if path else None

    def menu_actions(self) -> list[QAction | None]:
        """Actions for the Data menu (None marks a separator)."""
        actions: list[QAction | None] = []
        for kind, label in KINDS.items():
            for text, source in ((f"{label} sample", "sample"),
                                 (f"{label} full (download if needed)", "full")):
                action = QAction(text, self)
                action.triggered.connect(lambda _=False, k=kind, s=source: self.choose(k, s))
                actions.append(action)
            for text, slot in ((f"Open {label} file…", self.open_files),
                               (f"Open {label} folder…", self.open_folder)):
                action = QAction(text, self)
                action.triggered.connect(lambda _=False, k=kind, f=slot: f(k))
                actions.append(action)
            actions.append(None)
        browse = QAction("Browse…", self)
        browse.setShortcut("Ctrl+B")
        browse.setStatusTip("the loaded images with their labels: filter by class, jump to an index")
        browse.triggered.connect(self.browse)
        return [*actions, browse]

    def browse(self):
        """Open (or raise) the dataset browser window; it follows the loaded dataset."""
        from cnnlab.app.panels.dataset_browser import DatasetBrowser

        if self.browser is None:
            self.browser = DatasetBrowser(self.session, self.parent_widget)
        self.browser.show()
        self.browser.raise_()
        return self.browser

"""Experiments → Analysis: the current model on the current test set — confusion matrix,
per-class accuracy, precision/recall, and a gallery of the mistakes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app import settings as stored
from cnnlab.app.jobs import JobCancelled, JobKind
from cnnlab.app.panels.analysis_charts import show_confusion, show_per_class
from cnnlab.app.panels.empty_note import EmptyNote
from cnnlab.app.panels.experiment_widgets import (
    BarChart,
    JobControls,
    LabelledHeatmap,
    NumericItem,
    model_problem,
    percent,
)
from cnnlab.app.panels.mistakes_gallery import MistakesGallery
from cnnlab.app.widgets import format_count
from cnnlab.data.subsets import TEST_SUBSET_CHOICES, subset_indices
from cnnlab.lab.analysis import Analysis, analyze

if TYPE_CHECKING:
    from cnnlab.app.session import Session



class AnalysisView(QWidget):
    """Confusion matrix (click a cell → its images), per-class bars, precision/recall
    table and the misclassified gallery with probability bars."""

    computed = pyqtSignal(object)  # Analysis, after it is shown
    gallery_changed = pyqtSignal()

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.analysis: Analysis | None = None
        self._x_test: np.ndarray | None = None  # the images the analysis was computed on
        self._test_index = np.zeros(0, dtype=np.int64)  # their indices in the whole test set
        self._stale = True
        self._job = None

        self.recompute_button = QPushButton("Recompute")
        self.recompute_button.setToolTip("evaluate the current model on the test set again")
        self.mode = QComboBox()
        self.mode.addItems(["counts", "row-normalized"])
        self.mode.setToolTip("row-normalized: each row divided by the class's test images, "
                             "so the diagonal is the per-class accuracy")
        self.test_subset = QComboBox()
        self.test_subset.addItems(["all" if n is None else f"{n:,}" for n in TEST_SUBSET_CHOICES])
        self.test_subset.setToolTip("evaluate on the whole test set, or on a class-balanced "
                                    "subset of it (the exercises use 200 or 1,000 test images)")
        self.bars_of = QComboBox()
        self.bars_of.addItems(["accuracy", "loss"])
        self.bars_of.setToolTip("per-class bars: accuracy, or mean cross-entropy loss "
                                "(a class can be right often and still barely)")
        self.summary = QLabel("no analysis yet")
        self.summary.setWordWrap(True)  # a long model or dataset name must not widen the window
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.jobs = JobControls()

        self.confusion = LabelledHeatmap("guessed class", "true class")
        self.per_class = BarChart("per-class accuracy", "accuracy (%)")
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["class", "test images", "precision", "recall",
                                              "mean loss"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.setToolTip("precision: of the images guessed as this class, the fraction "
                              "that are; recall: of this class's images, the fraction found "
                              "(the per-class accuracy); mean loss: −log p(true class), averaged")
        self.mistakes = MistakesGallery()
        # the gallery's parts, under the names the tests and the window use
        self.gallery, self.gallery_title = self.mistakes.list, self.mistakes.title
        self.show_all, self.probabilities = self.mistakes.show_all, self.mistakes.probabilities
        self.mistakes.changed.connect(self.gallery_changed)
        waiting = "appears here once the model has been evaluated on the test set"
        self.notes = [EmptyNote(self.confusion.view, f"the confusion matrix {waiting}"),
                      EmptyNote(self.per_class.plot_widget, f"accuracy per class {waiting}"),
                      EmptyNote(self.table, f"precision, recall and loss per class {waiting}")]

        self._build_layout()
        self.recompute_button.clicked.connect(self.recompute)
        self.mode.currentIndexChanged.connect(lambda _i: self._show_confusion())
        self.bars_of.currentIndexChanged.connect(lambda _i: self._show_per_class())
        self.test_subset.currentIndexChanged.connect(lambda _i: self.mark_stale("the test subset changed"))
        self.confusion.cell_clicked.connect(self.show_cell)
        self.show_all.clicked.connect(self.show_mistakes)
        session.model_changed.connect(lambda _m: self.mark_stale("the model changed"))
        session.dataset_changed.connect(self._on_dataset_changed)
        session.training_finished.connect(lambda _h: self.mark_stale("training finished"))

    def _build_layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.recompute_button)
        top.addWidget(QLabel("confusion matrix:"))
        top.addWidget(self.mode)
        top.addWidget(QLabel("bars:"))
        top.addWidget(self.bars_of)
        top.addWidget(QLabel("test images:"))
        top.addWidget(self.test_subset)
        top.addStretch(1)

        middle = QSplitter(Qt.Orientation.Vertical)
        middle.addWidget(self.per_class)
        middle.addWidget(self.table)
        middle.setSizes([300, 260])

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.confusion)
        split.addWidget(middle)
        split.addWidget(self.mistakes)
        split.setSizes([460, 360, 440])

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.jobs)  # its own row: the status line has room to say what runs
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)

    # ------------------------------------------------------------- computing
    def mark_stale(self, why: str) -> None:
        """The shown analysis no longer matches the model or data: recompute now when
        visible (it runs in a job), else when the tab is next shown."""
        self._stale = True
        if self.isVisible() and not self.session.is_training:
            self.recompute()
        elif self.analysis is not None:
            self.jobs.set_status(f"{why}: the analysis below is out of date — Recompute")

    def _prepare_matrix(self) -> None:
        """The confusion matrix's cell labels for the dataset's classes, made before a job
        starts rather than when its result arrives (where they were a ~100 ms stall); a
        no-op once made for this many classes."""
        if self.session.dataset is not None:
            n = len(self.session.dataset.class_names)
            self.confusion.prepare(n, n)

    def _on_dataset_changed(self, _dataset) -> None:
        """Let go of the old test images at once; the numbers stay, marked out of date."""
        self._x_test = None
        self.mark_stale("the dataset changed")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._prepare_matrix()
        if self._stale and not self.jobs.running:
            self.recompute()

    def recompute(self) -> bool:
        """Evaluate a copy of the current model on the test set in a job. Returns False
        (and says why in the status line) when there is nothing to evaluate."""
        s = self.session
        ds = s.dataset
        model = s.snapshot()
        if model is None and s.model is not None and ds is not None:
            problem = "training has just started: the first weights arrive in a moment"
        else:
            problem = model_problem(model, ds)
        if problem:
            self.jobs.set_status(problem, error=True)
            return False
        if self._job is not None and self._job.running:
            self._job.cancel()  # its result is ignored; this one replaces it
        self._prepare_matrix()
        model = model.copy()  # the session's model may start training while this runs
        wanted = TEST_SUBSET_CHOICES[self.test_subset.currentIndex()]
        x_all, y_all, names = ds.x_test, ds.y_test, ds.class_names
        n_images = len(y_all) if wanted is None else min(wanted, len(y_all))

        def run(ctx):  # the subset is drawn here, not on the GUI thread
            keep = subset_indices(y_all, wanted)
            # all: the dataset's read-only images, no copy (labels: a small copy); else a subset
            x, y = (x_all, y_all.copy()) if len(keep) == len(y_all) else (x_all[keep], y_all[keep])
            result = analyze(model, x, y, names, progress=lambda d, t: ctx.progress(
                d, t, f"evaluating {d:,}/{t:,}"), should_stop=ctx.should_stop)
            if result is None:
                raise JobCancelled()
            return result, x, keep

        self._stale = False
        job = self.session.run_job("analysis", run, JobKind.ANALYSIS)
        self._job = job
        self.jobs.track(job, "evaluating…")
        self.jobs.set_status(f"evaluating {s.model_name} on {n_images:,} test images of {ds.name}…")
        job.finished.connect(lambda r, j=job, m=s.model_name, d=ds.name: self._on_done(j, *r, m, d))
        job.failed.connect(lambda msg, j=job: self._on_failed(j, msg))
        job.cancelled.connect(lambda _r, j=job: self._on_cancelled(j))
        return True

    def _on_done(self, job, analysis: Analysis, x_test, test_index, model_name: str,
                 ds_name: str) -> None:
        if job is not self._job:
            return
        self._job = None  # the session deletes the finished job
        self.analysis, self._x_test, self._test_index = analysis, x_test, test_index
        best, worst = analysis.best_and_worst()
        low, high = analysis.best_and_worst_loss()
        names, loss = analysis.class_names, analysis.per_class_loss()
        self.summary.setText(
            f"<b>{model_name}</b> on the {ds_name} test set ({format_count(len(analysis.y_true))} "
            f"images): accuracy <b>{percent(analysis.accuracy)}</b>, loss {analysis.loss:.3f} · "
            f"{format_count(len(analysis.misclassified()))} mistakes · by accuracy best "
            f"<b>{names[best]}</b> ({percent(analysis.per_class[best])}), worst "
            f"<b>{names[worst]}</b> ({percent(analysis.per_class[worst])}) · by loss lowest "
            f"<b>{names[low]}</b> ({loss[low]:.3f}), highest <b>{names[high]}</b> ({loss[high]:.3f})")
        self.jobs.set_status("click a cell of the matrix to see its images")
        for note in self.notes:
            note.set_empty(False)
        self._show_confusion()
        # The rest in later turns of the event loop: each view paints on its own (~20-40 ms)
        # instead of one ~120 ms stall. ``computed`` comes once all are shown.
        QTimer.singleShot(0, lambda: self._show_rest(analysis))

    def _show_rest(self, analysis: Analysis) -> None:
        if analysis is not self.analysis:  # a newer result replaced it meanwhile
            return
        self._show_per_class()
        QTimer.singleShot(0, lambda: self._show_last(analysis))

    def _show_last(self, analysis: Analysis) -> None:
        if analysis is not self.analysis:
            return
        self._fill_table()
        self.show_mistakes()
        self.computed.emit(analysis)

    def _on_failed(self, job, message: str) -> None:
        if job is self._job:
            self._job = None
            self._stale = True
            self.jobs.set_status(f"analysis failed: {message}", error=True)

    def _on_cancelled(self, job) -> None:
        if job is self._job:
            self._job = None
            self._stale = True
            self.jobs.set_status("analysis cancelled — Recompute to run it again")

    # ------------------------------------------------------------- rendering
    def _show_confusion(self) -> None:
        if self.analysis is not None:
            show_confusion(self.confusion, self.analysis, normalized=self.mode.currentIndex() == 1)

    def _show_per_class(self) -> None:
        if self.analysis is not None:
            show_per_class(self.per_class, self.analysis, by_loss=self.bars_of.currentIndex() == 1)

    def _fill_table(self) -> None:
        a = self.analysis
        self.table.setSortingEnabled(False)
        self.table.setRowCount(a.n_classes)
        for k, name in enumerate(a.class_names):
            cls = NumericItem(k, name)
            cls.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            self.table.setItem(k, 0, cls)
            self.table.setItem(k, 1, NumericItem(a.support[k], format_count(a.support[k])))
            self.table.setItem(k, 2, NumericItem(a.precision[k], percent(a.precision[k])))
            self.table.setItem(k, 3, NumericItem(a.recall[k], percent(a.recall[k])))
            loss = a.per_class_loss()[k]
            self.table.setItem(k, 4, NumericItem(loss, "—" if np.isnan(loss) else f"{loss:.3f}"))
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)

    def show_mistakes(self) -> None:
        """Fill the gallery with every misclassified image (most confident first)."""
        if self.analysis is None:
            return
        idx = self.analysis.misclassified()
        self._fill_gallery(idx, f"misclassified test images ({format_count(len(idx))})")

    def show_cell(self, true_class: int, predicted: int) -> None:
        """Fill the gallery with the images of one confusion-matrix cell."""
        a = self.analysis
        if a is None:
            return
        idx = a.cell(true_class, predicted)
        names = a.class_names
        what = "correctly classified" if true_class == predicted else "guessed as " + names[predicted]
        self._fill_gallery(idx, f"true {names[true_class]}, {what} ({format_count(len(idx))})")

    def _fill_gallery(self, idx: np.ndarray, title: str) -> None:
        if self._x_test is None:  # the dataset changed: its images are gone
            self.jobs.set_status("the dataset changed: Recompute to see the images")
            return
        self.mistakes.fill(self.analysis, self._x_test, self._test_index, idx, title)

    @property
    def gallery_indices(self) -> np.ndarray:
        return self.mistakes.indices

    @property
    def selected_image(self) -> int | None:
        return self.mistakes.selected_image

    def show_probabilities(self, index: int) -> None:
        self.mistakes.show_probabilities(index)

    def save_settings(self, settings) -> None:
        settings.setValue("experiments/confusion_mode", self.mode.currentIndex())
        settings.setValue("experiments/bars_of", self.bars_of.currentIndex())
        settings.setValue("experiments/test_subset", self.test_subset.currentIndex())

    def restore_settings(self, settings) -> None:
        self.mode.setCurrentIndex(stored.read(settings, "experiments/confusion_mode", 0, "int",
                                              lo=0, hi=self.mode.count() - 1))
        for key, box in (("bars_of", self.bars_of), ("test_subset", self.test_subset)):
            box.setCurrentIndex(stored.read(settings, f"experiments/{key}", 0, "int",
                                            lo=0, hi=box.count() - 1))

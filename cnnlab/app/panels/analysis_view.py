"""Experiments → Analysis: the current model on the current test set — confusion matrix,
per-class accuracy, precision/recall, and a gallery of the mistakes."""

from __future__ import annotations

import math

import numpy as np
from PyQt6.QtCore import QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QPixmap
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app import settings as stored
from cnnlab.app.jobs import JobCancelled
from cnnlab.app.panels.experiment_widgets import (
    BarChart,
    JobControls,
    LabelledHeatmap,
    NumericItem,
    image_to_qimage,
    model_problem,
    percent,
)
from cnnlab.app.widgets import ERROR_COLOR, PREVIOUS_COLOR, TRAIN_COLOR, format_count
from cnnlab.lab.analysis import Analysis, analyze

#: The gallery shows at most this many images (the most confident mistakes first).
GALLERY_LIMIT = 200
GOOD_COLOR = QColor(44, 160, 44)


def short_name(name: str, n: int = 5) -> str:
    """Column labels of a 10-class matrix have ~40 px: ``automobile`` → ``autom``."""
    return name if len(name) <= n else name[:n]


class AnalysisView(QWidget):
    """Confusion matrix (click a cell → its images), per-class bars, precision/recall
    table and the misclassified gallery with probability bars."""

    computed = pyqtSignal(object)  # Analysis, after it is shown
    gallery_changed = pyqtSignal()

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.analysis: Analysis | None = None
        self.gallery_indices = np.zeros(0, dtype=np.int64)  # test-set index of each item
        self.selected_image: int | None = None
        self._x_test: np.ndarray | None = None  # the images the analysis was computed on
        self._stale = True
        self._job = None

        self.recompute_button = QPushButton("Recompute")
        self.recompute_button.setToolTip("evaluate the current model on the test set again")
        self.mode = QComboBox()
        self.mode.addItems(["counts", "row-normalized"])
        self.mode.setToolTip("row-normalized: each row divided by the class's test images, "
                             "so the diagonal is the per-class accuracy")
        self.summary = QLabel("no analysis yet")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.jobs = JobControls()

        self.confusion = LabelledHeatmap("guessed class", "true class")
        self.per_class = BarChart("per-class accuracy", "accuracy (%)")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["class", "test images", "precision", "recall"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.setToolTip("precision: of the images guessed as this class, the fraction "
                              "that are; recall: of this class's images, the fraction found "
                              "(the per-class accuracy)")

        self.gallery_title = QLabel("misclassified test images")
        self.gallery = QListWidget()
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.gallery.setMovement(QListView.Movement.Static)
        self.gallery.setIconSize(QSize(56, 56))
        self.gallery.setGridSize(QSize(92, 96))
        self.gallery.setUniformItemSizes(True)
        self.gallery.setWordWrap(True)
        self.show_all = QPushButton("All mistakes")
        self.show_all.setToolTip("show every misclassified image again (after clicking a cell)")
        self.probabilities = BarChart("click an image to see its probabilities", "probability")

        self._build_layout()
        self.recompute_button.clicked.connect(self.recompute)
        self.mode.currentIndexChanged.connect(lambda _i: self._show_confusion())
        self.confusion.cell_clicked.connect(self.show_cell)
        self.gallery.currentRowChanged.connect(self._on_gallery_row)
        self.show_all.clicked.connect(self.show_mistakes)
        session.model_changed.connect(lambda _m: self.mark_stale("the model changed"))
        session.dataset_changed.connect(lambda _d: self.mark_stale("the dataset changed"))
        session.training_finished.connect(lambda _h: self.mark_stale("training finished"))

    def _build_layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.recompute_button)
        top.addWidget(QLabel("confusion matrix:"))
        top.addWidget(self.mode)
        top.addWidget(self.jobs, 1)

        middle = QSplitter(Qt.Orientation.Vertical)
        middle.addWidget(self.per_class)
        middle.addWidget(self.table)
        middle.setSizes([300, 260])

        gallery_box = QWidget()
        gl = QVBoxLayout(gallery_box)
        gl.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(self.gallery_title, 1)
        head.addWidget(self.show_all)
        gl.addLayout(head)
        gl.addWidget(self.gallery, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(gallery_box)
        right.addWidget(self.probabilities)
        right.setSizes([400, 260])

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.confusion)
        split.addWidget(middle)
        split.addWidget(right)
        split.setSizes([460, 360, 440])

        layout = QVBoxLayout(self)
        layout.addLayout(top)
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

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
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
        model = model.copy()  # the session's model may start training while this runs
        x, y, names = ds.x_test, ds.y_test, ds.class_names

        def run(ctx):
            result = analyze(model, x, y, names, progress=lambda d, t: ctx.progress(
                d, t, f"evaluating {d:,}/{t:,}"), should_stop=ctx.should_stop)
            if result is None:
                raise JobCancelled()
            return result

        self._stale = False
        job = self.session.run_job("analysis", run)
        self._job = job
        self.jobs.track(job, "evaluating…")
        self.jobs.set_status(f"evaluating {s.model_name} on {len(x):,} test images of {ds.name}…")
        job.finished.connect(lambda a, j=job, xs=x, m=s.model_name, d=ds.name: self._on_done(j, a, xs, m, d))
        job.failed.connect(lambda msg, j=job: self._on_failed(j, msg))
        job.cancelled.connect(lambda _r, j=job: self._on_cancelled(j))
        return True

    def _on_done(self, job, analysis: Analysis, x_test, model_name: str, ds_name: str) -> None:
        if job is not self._job:
            return
        self.analysis, self._x_test = analysis, x_test
        best, worst = analysis.best_and_worst()
        names = analysis.class_names
        self.summary.setText(
            f"<b>{model_name}</b> on the {ds_name} test set ({format_count(len(analysis.y_true))} "
            f"images): accuracy <b>{percent(analysis.accuracy)}</b>, loss {analysis.loss:.3f} · "
            f"{format_count(len(analysis.misclassified()))} mistakes · best class "
            f"<b>{names[best]}</b> ({percent(analysis.per_class[best])}), worst "
            f"<b>{names[worst]}</b> ({percent(analysis.per_class[worst])})")
        self.jobs.set_status("click a cell of the matrix to see its images")
        self._show_confusion()
        self._show_per_class(best, worst)
        self._fill_table()
        self.show_mistakes()
        self.computed.emit(analysis)

    def _on_failed(self, job, message: str) -> None:
        if job is self._job:
            self._stale = True
            self.jobs.set_status(f"analysis failed: {message}", error=True)

    def _on_cancelled(self, job) -> None:
        if job is self._job:
            self._stale = True
            self.jobs.set_status("analysis cancelled — Recompute to run it again")

    # ------------------------------------------------------------- rendering
    def _show_confusion(self) -> None:
        a = self.analysis
        if a is None:
            return
        names = a.class_names
        if self.mode.currentIndex() == 1:
            values = a.normalized_confusion()
            texts = [[("" if np.isnan(v) else f"{v:.2f}") for v in row] for row in values]
            levels = (0.0, 1.0)
            title = "confusion matrix (fraction of each true class)"
        else:
            values = a.confusion.astype(np.float64)
            texts = [[str(int(v)) for v in row] for row in a.confusion]
            levels = (0.0, max(1.0, float(values.max())))
            title = "confusion matrix (test images)"
        self.confusion.set_title(title)
        self.confusion.set_data(values, names, [short_name(n) for n in names], texts, levels,
                                gamma=0.4)

    def _show_per_class(self, best: int, worst: int) -> None:
        a = self.analysis
        colors = [TRAIN_COLOR] * a.n_classes
        colors[worst] = ERROR_COLOR
        colors[best] = GOOD_COLOR
        # The axis starts 5–15 points below the worst class, so 95 % and 99 % look different.
        low = max(0.0, 10 * math.floor((100 * a.per_class[worst] - 5) / 10))
        self.per_class.set_bars(100 * a.per_class, [short_name(n) for n in a.class_names],
                                colors, y_range=(low, 100))
        self.per_class.set_title(
            f"per-class accuracy · best <b style='color:{GOOD_COLOR.name()}'>{a.class_names[best]}"
            f"</b> ({percent(a.per_class[best])}), worst <b style='color:{ERROR_COLOR.name()}'>"
            f"{a.class_names[worst]}</b> ({percent(a.per_class[worst])})")

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
        a = self.analysis
        shown = idx[:GALLERY_LIMIT]
        if len(idx) > len(shown):
            title += f" — the {len(shown)} most confident"
        self.gallery_title.setText(title)
        self.gallery_indices = shown
        self.gallery.clear()
        scale = max(1, 56 // self._x_test.shape[-1])
        for i in shown:
            t, p = int(a.y_true[i]), int(a.y_pred[i])
            item = QListWidgetItem(
                QIcon(QPixmap.fromImage(image_to_qimage(self._x_test[i], scale))),
                f"{short_name(a.class_names[t], 6)} → {short_name(a.class_names[p], 6)}\n"
                f"{percent(a.proba[i, p], 0)}")
            item.setToolTip(f"test image #{i}: true {a.class_names[t]}, guessed "
                            f"{a.class_names[p]} with p = {a.proba[i, p]:.3f}")
            item.setData(Qt.ItemDataRole.UserRole, int(i))
            self.gallery.addItem(item)
        self.selected_image = None
        if len(shown):
            self.gallery.setCurrentRow(0)
        else:
            self.probabilities.set_bars(np.zeros(a.n_classes), [short_name(n) for n in a.class_names])
            self.probabilities.set_title("no images in this cell")
        self.gallery_changed.emit()

    def _on_gallery_row(self, row: int) -> None:
        if self.analysis is None or not 0 <= row < len(self.gallery_indices):
            return
        self.show_probabilities(int(self.gallery_indices[row]))

    def show_probabilities(self, index: int) -> None:
        """Probability bars of test image ``index``: true class green, a wrong guess red."""
        a = self.analysis
        self.selected_image = index
        t, p = int(a.y_true[index]), int(a.y_pred[index])
        colors = [PREVIOUS_COLOR] * a.n_classes
        colors[p] = ERROR_COLOR if p != t else GOOD_COLOR
        colors[t] = GOOD_COLOR
        self.probabilities.set_bars(a.proba[index], [short_name(n) for n in a.class_names],
                                    colors, y_range=(0, 1))
        self.probabilities.set_title(
            f"test image #{index}: true {a.class_names[t]} (p = {a.proba[index, t]:.2f}), "
            f"guess {a.class_names[p]} (p = {a.proba[index, p]:.2f})")

    def save_settings(self, settings) -> None:
        settings.setValue("experiments/confusion_mode", self.mode.currentIndex())

    def restore_settings(self, settings) -> None:
        self.mode.setCurrentIndex(stored.read(settings, "experiments/confusion_mode", 0, "int",
                                              lo=0, hi=self.mode.count() - 1))

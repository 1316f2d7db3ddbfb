"""The Experiments tab: analysis of the current model, sweeps, and the data-size curve."""

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from cnnlab.app.panels.experiments_panel import ExperimentsPanel
from cnnlab.app.session import Session, TrainingConfig, load_dataset
from cnnlab.engine.presets import build_preset

LINEAR = "Linear softmax (784→10)"


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist", "sample")


@pytest.fixture
def session(qtbot, mnist):
    s = Session()
    s.set_dataset(mnist)
    s.set_model(build_preset(LINEAR), "linear")
    yield s
    s.shutdown()


@pytest.fixture
def panel(qtbot, session):
    p = ExperimentsPanel(session)
    qtbot.addWidget(p)
    p.resize(1280, 760)
    return p


def _train(qtbot, session, **cfg):
    with qtbot.waitSignal(session.training_finished, timeout=20000):
        session.start_training(TrainingConfig(**{"epochs": 1, "lr": 0.01, **cfg}))


# ------------------------------------------------------------------ analysis

def test_analysis_confusion_matrix_and_cell_gallery(qtbot, panel, session, mnist):
    _train(qtbot, session)  # the sample is sorted by class: no subset
    view = panel.analysis
    with qtbot.waitSignal(view.computed, timeout=10000) as blocker:
        panel.show()  # showing the tab computes a stale analysis
    a = blocker.args[0]
    np.testing.assert_array_equal(a.confusion.sum(axis=1), np.bincount(mnist.y_test, minlength=10))
    np.testing.assert_array_equal(a.y_pred, session.model.predict(mnist.x_test))
    assert 0.5 < a.accuracy < 1.0  # trained, but makes mistakes to show
    # The cell texts are the counts; the gallery starts with every mistake.
    assert view.confusion.texts[3][3].toPlainText() == str(a.confusion[3, 3])
    assert view.gallery.count() == min(len(a.misclassified()), 200)
    # Click the biggest off-diagonal cell: the gallery shows exactly its images.
    off = a.confusion.copy()
    np.fill_diagonal(off, 0)
    t, p = np.unravel_index(off.argmax(), off.shape)
    with qtbot.waitSignal(view.gallery_changed, timeout=2000):
        qtbot.mouseClick(view.confusion.view.viewport(), Qt.MouseButton.LeftButton,
                         pos=view.confusion.cell_center(int(t), int(p)).toPoint())
    shown = [view.gallery.item(i).data(Qt.ItemDataRole.UserRole) for i in range(view.gallery.count())]
    assert len(shown) == a.confusion[t, p] > 0
    assert all(mnist.y_test[i] == t and a.y_pred[i] == p for i in shown)
    # The first image is selected and its probability bars are shown; pick another.
    view.gallery.setCurrentRow(len(shown) - 1)
    assert view.selected_image == shown[-1]
    np.testing.assert_allclose(view.probabilities.heights, a.proba[shown[-1]])
    # Row-normalized mode shows fractions that sum to 1 per row.
    view.mode.setCurrentIndex(1)
    row = [float(view.confusion.texts[int(t)][j].toPlainText()) for j in range(10)]
    assert sum(row) == pytest.approx(1.0, abs=0.06)
    # Per-class table: recall column equals the per-class accuracy.
    texts = {view.table.item(r, 0).text(): view.table.item(r, 3).text() for r in range(10)}
    assert texts[str(t)] == f"{100 * a.per_class[t]:.1f} %"


def test_analysis_refuses_a_model_that_does_not_fit(qtbot, panel, session):
    session.set_model(build_preset("CIFAR-10 net (32-64 conv, 128 dense)"), "cifar")
    assert panel.analysis.recompute() is False
    assert "inputs" in panel.analysis.jobs.status.text()

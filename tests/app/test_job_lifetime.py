"""Memory that stays proportional, and long jobs that say where they are: finished jobs
are freed, a replaced dataset is released, nothing O(dataset) runs on the GUI thread,
progress ends at 100 %, and the status bar names the running job."""

import gc
import time
import tracemalloc
import weakref

import numpy as np
import pytest
from PyQt6.QtCore import QCoreApplication, QSettings, Qt

from cnnlab.app.jobs import Job, JobKind
from cnnlab.app.panels.data_size_view import baseline_fraction
from cnnlab.app.panels.experiments_panel import ExperimentsPanel
from cnnlab.app.panels.recovery_progress import recovery_fraction
from cnnlab.app.session import DatasetBundle, Session
from cnnlab.lab.presets import build_preset

SMALL = "Conv3x3×9 → MaxPool2 → Softmax"
DIGITS = tuple(str(i) for i in range(10))


def fake_digits(n_train: int, n_test: int, seed: int = 0, name: str = "fake digits") -> DatasetBundle:
    rng = np.random.default_rng(seed)
    return DatasetBundle(name, "/tmp/fake", "mnist",
                         rng.integers(0, 256, (n_train, 1, 28, 28), dtype=np.uint8),
                         np.arange(n_train) % 10,
                         rng.integers(0, 256, (n_test, 1, 28, 28), dtype=np.uint8),
                         np.arange(n_test) % 10, DIGITS)


def flush(qtbot) -> None:
    """Deliver pending signals and deferred deletions, then collect."""
    qtbot.wait(30)
    QCoreApplication.processEvents()
    gc.collect()


def live_jobs() -> list:
    return [o for o in gc.get_objects() if isinstance(o, Job)]


@pytest.fixture
def session(qtbot):
    s = Session()
    s.set_dataset(fake_digits(400, 200))
    s.set_model(build_preset(SMALL), SMALL)
    yield s
    assert s.shutdown(timeout_ms=5000)


@pytest.fixture
def panel(qtbot, session):
    p = ExperimentsPanel(session)
    qtbot.addWidget(p)
    view = p.sweeps
    view.lr_values.setText("0.05")
    view.b_values.setText("0")
    view.subset.setValue(100)
    size = p.data_size
    size.fractions.setText("0.5, 1")
    size.form.epochs.setValue(1)
    return p


def run_everything(qtbot, panel) -> None:
    """One analysis, one sweep and one data-size curve (with the baseline), to the end."""
    with qtbot.waitSignal(panel.analysis.computed, timeout=30000):
        assert panel.analysis.recompute()
    with qtbot.waitSignal(panel.sweeps.sweep_done, timeout=30000):
        assert panel.sweeps.run_sweep()
    with qtbot.waitSignal(panel.data_size.curve_done, timeout=60000):
        assert panel.data_size.run_curve()


def test_finished_jobs_are_collected_and_views_keep_no_job(qtbot, panel, session):
    run_everything(qtbot, panel)
    flush(qtbot)
    assert live_jobs() == []
    for view in (panel.sweeps, panel.data_size):
        assert view._job is None and view.jobs.job is None and not view.running
    assert panel.analysis._job is None and panel.analysis.jobs.job is None
    assert session.running_jobs() == [] and not session._threads


def test_replacing_the_dataset_releases_the_old_arrays(qtbot, panel, session):
    run_everything(qtbot, panel)
    old = session.dataset
    refs = [weakref.ref(a) for a in (old.x_train, old.y_train, old.x_test, old.y_test)]
    assert not old.x_train.flags.writeable  # jobs get read-only arrays
    del old
    session.set_dataset(fake_digits(50, 20, seed=1, name="other digits"))
    flush(qtbot)
    alive = [r() for r in refs if r() is not None]
    assert not alive, [gc.get_referrers(a) for a in alive]


def test_the_model_copies_of_finished_analyses_are_freed(qtbot, panel, session):
    """Each analysis evaluates a model copy; none of them (nor its im2col caches) stays."""
    from cnnlab.engine.model import Sequential

    before = sum(isinstance(o, Sequential) for o in gc.get_objects())
    for _ in range(3):
        with qtbot.waitSignal(panel.analysis.computed, timeout=30000):
            assert panel.analysis.recompute()
    flush(qtbot)
    assert sum(isinstance(o, Sequential) for o in gc.get_objects()) <= before
    assert all(not k.startswith("_cache") for layer in session.model.layers for k in vars(layer))


def test_starting_a_sweep_does_no_dataset_sized_work_on_the_gui_thread(qtbot, session):
    """A (virtual) 2-million-image training set: the GUI thread may not copy, shuffle or
    even stratify it; the job does that."""
    n = 2_000_000
    x = np.broadcast_to(np.zeros((1, 1, 28, 28), dtype=np.uint8), (n, 1, 28, 28))  # no memory
    y = np.arange(n, dtype=np.int64) % 10  # 16 MB
    session.set_dataset(DatasetBundle("huge", "/tmp/huge", "mnist", x, y, x[:100], y[:100], DIGITS))
    captured = []
    session.run_job = lambda name, fn, kind=JobKind.OTHER: captured.append((fn, kind)) or _StubJob()
    p = ExperimentsPanel(session)
    qtbot.addWidget(p)
    p.sweeps.subset.setValue(n)  # "all training images"
    for start in (p.sweeps.run_sweep, p.data_size.run_curve):
        tracemalloc.start()
        t0 = time.perf_counter()
        assert start()
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 2_000_000, f"{start.__name__} allocated {peak / 1e6:.1f} MB on the GUI thread"
        assert seconds < 2.0  # generous: the machine may be busy; the allocation is the test
    assert [kind for _fn, kind in captured] == [JobKind.SWEEP, JobKind.DATA_SIZE]


class _StubJob:
    """Stands in for a Job whose function never runs (run_job replaced)."""

    running = True
    cancel_requested = False
    fraction = None

    def __getattr__(self, name):  # signals: connect() does nothing
        return _Signal()

    def cancel(self):
        pass


class _Signal:
    def connect(self, *_args):
        pass


def test_recovery_converging_early_ends_at_100_percent(qtbot):
    from cnnlab.app.panels.kernels_panel import KernelsPanel

    s = Session()
    p = KernelsPanel(s)
    qtbot.addWidget(p)
    rv = p.recovery_view
    rv.images_spin.setValue(10)
    rv.steps_spin.setValue(1000)
    rv.tolerance_spin.setValue(1e-2)
    fractions = []
    rv.start()
    job = rv.job
    job.progress_changed.connect(lambda: fractions.append(job.fraction))
    with qtbot.waitSignal(job.done, timeout=60000):
        pass
    result = rv.result
    assert result.converged and result.steps < 1000  # it stopped early…
    assert rv.progress.value() == rv.progress.maximum()  # …and the bar says done
    assert "100 %" in rv.progress.format() and "converged" in rv.progress.format()
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert s.shutdown(timeout_ms=5000)


def test_status_bar_names_the_running_job_with_progress_and_eta(qtbot, tmp_path):
    import threading

    from cnnlab.app.main_window import MainWindow
    from cnnlab.app.startup import load_startup_state

    s = Session()
    load_startup_state(s)
    w = MainWindow(s, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    assert w.training_label.text() == "idle"
    gate = threading.Event()
    job = s.run_job("sweep", lambda ctx: gate.wait(10), JobKind.SWEEP)
    qtbot.waitUntil(lambda: w.training_label.text().startswith("sweep"), timeout=2000)
    assert w.job_cancel.isVisible()
    job.started -= 30.0  # as if it had run for half a minute
    job.set_progress(0.25, "cell 3/12 · epoch 1/1 · batch 140/938")
    assert w.training_label.text() == "sweep · 25 % · ETA 1:30"
    with qtbot.waitSignal(job.done, timeout=5000):
        gate.set()
    qtbot.waitUntil(lambda: w.training_label.text() == "idle", timeout=2000)
    assert not w.job_cancel.isVisible()
    s.shutdown(timeout_ms=5000)


def test_long_names_do_not_widen_the_window(qtbot, tmp_path):
    from cnnlab.app.main_window import MainWindow

    s = Session()
    w = MainWindow(s, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.resize(1024, 700)
    w.show()
    qtbot.waitExposed(w)
    folder = "/home/student/" + "a-very-long-folder-name-for-the-mnist-files-" * 6
    ds = fake_digits(30, 10, name=f"MNIST (30 / 10, from …/{folder.rsplit('/', 1)[-1]})")
    s.set_dataset(ds)
    w.tabs.setCurrentWidget(w.experiments_panel)
    qtbot.wait(50)
    assert w.width() == 1024 and w.minimumSizeHint().width() <= 1024
    assert w.dataset_label.text() == ds.describe()  # the full text; it shows elided
    s.shutdown(timeout_ms=5000)


def test_job_controls_bar_text_stays_short(qtbot, session):
    """The bar shows "42 % · ETA 0:31"; the long step text goes to an elided label."""
    import threading

    from cnnlab.app.panels.experiment_widgets import JobControls

    controls = JobControls()
    qtbot.addWidget(controls)
    controls.resize(420, 40)
    controls.show()
    gate = threading.Event()
    job = session.run_job("sweep", lambda ctx: gate.wait(10), JobKind.SWEEP)
    controls.track(job)
    job.set_progress(0.42, "cell 10/12 · epoch 3/3 · batch 1,234/1,875")
    assert controls.bar.format() == "42 %"  # no ETA within the first second
    assert controls.detail.text().startswith("cell 10/12")
    assert controls.bar.width() >= controls.bar.fontMetrics().horizontalAdvance("100 % · ETA 0:00:00")
    with qtbot.waitSignal(job.done, timeout=5000):
        gate.set()
    assert controls.job is None and not controls.bar.isVisible()


def test_progress_estimates():
    assert recovery_fraction(10, 1000, 1.0, 1.0, 1e-3) == pytest.approx(0.01)
    assert recovery_fraction(100, 1000, 1.0, 1e-2, 1e-3) == pytest.approx(2 / 3)
    assert recovery_fraction(300, 1000, 1.0, 1e-4, 1e-3) == 1.0
    losses = [2.0 * 0.5 ** k + 1.0 for k in range(5)]
    assert baseline_fraction(losses) == pytest.approx(5 / 500)  # no change measured yet
    assert baseline_fraction([1.0] * 12) == 1.0  # the loss stopped moving: converged
    falling = [1.0 + 0.1 * 0.7 ** k for k in range(40)]
    values = [baseline_fraction(falling[:n]) for n in range(6, 40)]
    assert values == sorted(values) and 0 < values[0] < values[-1] <= 1


def test_dataset_names_say_where_the_files_came_from():
    from cnnlab.app.session import dataset_name

    assert dataset_name("MNIST", "sample", 4000, 1000) == "MNIST sample"
    assert dataset_name("MNIST", "full", 60000, 10000) == "MNIST full"
    assert dataset_name("MNIST", "/data/sets/mnist", 60000, 10000) == "MNIST (60,000 / 10,000, from …/mnist)"
    assert dataset_name("CIFAR-10", "/x/cifar-10-binary.tar.gz", 50000, 10000).endswith(
        "from …/cifar-10-binary.tar.gz)")
    long = dataset_name("MNIST", "/d/" + "x" * 100, 10, 10)
    assert long == f"MNIST (10 / 10, from …/{'x' * 31}…)"


def test_cancel_button_in_the_status_bar_cancels_background_jobs_only(qtbot, tmp_path):
    import threading

    from cnnlab.app.main_window import MainWindow

    s = Session()
    w = MainWindow(s, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    gate = threading.Event()

    def wait(ctx):
        while not ctx.should_stop() and not gate.is_set():
            time.sleep(0.005)

    job = s.run_job("download MNIST", wait, JobKind.DATASET)
    with qtbot.waitSignal(job.done, timeout=5000):
        qtbot.mouseClick(w.job_cancel, Qt.MouseButton.LeftButton)
    gate.set()
    s.shutdown(timeout_ms=5000)

"""The session: current model, dataset and training run, and the owner of every thread.

Panels get the session in their constructor, call its methods and listen to its
signals. Nothing else in the app creates, starts or joins a ``QThread``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QObject, QThread, QTimer, pyqtSignal

from cnnlab.app.dataset_bundle import DatasetBundle, dataset_name, load_dataset
from cnnlab.app.jobs import Job, JobContext, JobKind, JobWorker
from cnnlab.app.memory import give_back_freed_memory
from cnnlab.app.training_run import WeightsSnapshot, training_run
from cnnlab.engine.model import Sequential
from cnnlab.engine.model import load as load_model_file
from cnnlab.lab.model_record import is_trained, name_from_meta, record_training
from cnnlab.lab.training import TrainingConfig, TrainingState
from cnnlab.lab.training_diagnostics import GradientReport, HistogramReport

__all__ = ["DatasetBundle", "Session", "WeightsSnapshot", "dataset_name", "load_dataset"]

#: Seconds between weight snapshots sent to the Draw / filter views during training.
SNAPSHOT_INTERVAL_S = 0.5
#: Seconds between measured steps for the Train tab's Diagnostics view (norms, no weights).
DIAGNOSTICS_INTERVAL_S = 0.2


class Session(QObject):
    """Current model + dataset + the one training run, and every worker thread."""

    model_changed = pyqtSignal(object)  # Sequential (the session's model; read-only for panels)
    model_saved = pyqtSignal(object)  # Path the model was written to
    architecture_error_changed = pyqtSignal(object)  # str (why the designed net is impossible) or None
    dataset_changed = pyqtSignal(object)  # DatasetBundle
    about_to_train = pyqtSignal()  # start_training was called: editors apply pending edits now
    training_started = pyqtSignal(object)  # TrainingConfig
    training_state_changed = pyqtSignal(object)  # TrainingState
    batch_reported = pyqtSignal(object)  # engine.trainer.BatchReport
    epoch_reported = pyqtSignal(object)  # engine.trainer.EpochReport
    weights_updated = pyqtSignal(object)  # WeightsSnapshot
    diagnostics_reported = pyqtSignal(object)  # lab.training_diagnostics Gradient/HistogramReport
    training_finished = pyqtSignal(object)  # engine.trainer.History
    training_failed = pyqtSignal(str)
    status_message = pyqtSignal(str)
    jobs_changed = pyqtSignal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.model: Sequential | None = None
        self.model_name = "no model"
        self.model_path: Path | None = None
        self.replaced = None  # (model, name, path): the last trained model set_model replaced
        self.architecture_error: str | None = None
        self.dataset: DatasetBundle | None = None
        self.state = TrainingState.IDLE
        self.history = None  # engine.trainer.History of the last run
        self._trainer = None
        self._run_settings: dict = {}  # the running config, as meta["training"] records it
        self._training_job: Job | None = None
        self._threads: dict[Job, tuple[QThread, JobWorker]] = {}
        self._snapshot: Sequential | None = None

    # ----------------------------------------------------------------- model
    def set_model(self, model: Sequential, name: str, path: Path | None = None) -> None:
        """Make ``model`` the current model (refused while training)."""
        self._refuse_while_training("change the model")
        model.eval()
        if self.model is not None and model is not self.model and is_trained(self.model_name):
            self.replaced = (self.model, self.model_name, self.model_path)  # one Undo away
        self.model, self.model_name, self.model_path = model, name, path
        self._snapshot = None
        self.model_changed.emit(model)
        self.status_message.emit(f"model: {name}")

    def set_architecture_error(self, message: str | None) -> None:
        """The layer designer reports an impossible configuration (or None when fixed);
        training is refused while one is set."""
        if message != self.architecture_error:
            self.architecture_error = message
            self.architecture_error_changed.emit(message)

    def load_model(self, path: str | Path) -> Sequential:
        """Load a ``.npz`` model file; raises ``ModelFileError``/``FileNotFoundError``."""
        path = Path(path)
        model = load_model_file(path)
        self.set_model(model, name_from_meta(model.meta, path.stem), path)
        return model

    def save_model(self, path: str | Path) -> None:
        """Save the current model (atomic); uses the latest snapshot while training."""
        model = self.snapshot()
        if model is None:
            raise ValueError("there is no model to save")
        model.meta["name"] = self.model_name  # reloads as "… (trained 3 epochs)"
        model.save(path)
        self.model_saved.emit(Path(path))
        self.status_message.emit(f"saved model to {path}")

    def snapshot(self) -> Sequential | None:
        """A model safe to run on the GUI thread: the model itself when idle,
        the latest between-batch copy while training."""
        if self.state == TrainingState.IDLE:
            return self.model
        return self._snapshot

    # --------------------------------------------------------------- dataset
    def set_dataset(self, bundle: DatasetBundle) -> None:
        """Make ``bundle`` the current dataset. The session is its one owner: jobs get
        read-only views or index arrays, so replacing it releases the old arrays."""
        self._refuse_while_training("change the dataset")
        for array in (bundle.x_train, bundle.y_train, bundle.x_test, bundle.y_test):
            array.flags.writeable = False  # shared with jobs: nobody writes into it
        self.dataset = bundle
        self.dataset_changed.emit(bundle)  # the views drop the old arrays…
        give_back_freed_memory(collect=True)  # …and their memory goes back to the system
        self.status_message.emit(f"dataset: {bundle.describe()}")

    def load_dataset_async(self, kind: str, source: str) -> Job:
        """Load a dataset in a job (full sets parse for a second or more)."""
        job = self.run_job(f"load {kind} {source}", lambda ctx: load_dataset(kind, source),
                           JobKind.DATASET)
        job.finished.connect(self.set_dataset)
        return job

    # -------------------------------------------------------------- training
    @property
    def is_training(self) -> bool:
        return self.state != TrainingState.IDLE

    def start_training(self, cfg: TrainingConfig) -> Job:
        """Train the current model on the current dataset in a worker thread."""
        self._refuse_while_training("start a second training")
        self.about_to_train.emit()  # e.g. the designer builds an edit made a moment ago
        if self.architecture_error:
            raise ValueError(f"fix the network first: {self.architecture_error}")
        if self.model is None or self.dataset is None:
            raise ValueError("load a model and a dataset before training")
        ds = self.dataset
        if tuple(self.model.input_shape) != tuple(ds.input_shape):
            raise ValueError(
                f"the model takes inputs of shape {tuple(self.model.input_shape)} but "
                f"{ds.name} images are {tuple(ds.input_shape)}")
        out = self.model.output_shape
        if tuple(out) != (ds.n_classes,):
            raise ValueError(f"the model outputs {tuple(out)} but {ds.name} has {ds.n_classes} classes")
        trainer, run = training_run(self.model, cfg, ds, SNAPSHOT_INTERVAL_S, DIAGNOSTICS_INTERVAL_S)
        self._trainer = trainer
        self._run_settings = cfg.record(ds.name)
        job = self.run_job("training", run, JobKind.TRAINING)
        self._training_job = job
        job.progress.connect(self._on_training_progress)
        job.finished.connect(self._on_training_finished)
        job.cancelled.connect(self._on_training_finished)
        job.failed.connect(self._on_training_failed)
        self._set_state(TrainingState.RUNNING)
        self.training_started.emit(cfg)
        return job

    def pause(self) -> None:
        if self.state == TrainingState.RUNNING and self._trainer is not None:
            self._trainer.pause()
            self._set_state(TrainingState.PAUSED)

    def resume(self) -> None:
        if self.state == TrainingState.PAUSED and self._trainer is not None:
            self._trainer.resume()
            self._set_state(TrainingState.RUNNING)

    def toggle_pause(self) -> None:
        if self.state == TrainingState.RUNNING:
            self.pause()
        elif self.state == TrainingState.PAUSED:
            self.resume()

    def stop(self) -> None:
        """Ask training to stop after the current batch."""
        if self._training_job is None or not self.is_training:
            return
        if self._trainer is not None:
            self._trainer.stop()  # also releases a pause
        self._training_job.cancel()
        self._set_state(TrainingState.STOPPING)

    def _on_training_progress(self, report: object) -> None:
        from cnnlab.engine.trainer import BatchReport, EpochReport

        if isinstance(report, BatchReport):
            if self._training_job is not None:
                r = report
                done = ((r.epoch - 1) * r.batches + r.batch) / (r.epochs * r.batches)
                eta = r.seconds * (1 - done) / done if done else None  # r.seconds: not paused
                self._training_job.set_progress(done, f"epoch {r.epoch}/{r.epochs}", eta)
            self.batch_reported.emit(report)
        elif isinstance(report, EpochReport):
            self.epoch_reported.emit(report)
        elif isinstance(report, WeightsSnapshot):
            self._snapshot = report.model
            self.weights_updated.emit(report)
        elif isinstance(report, (GradientReport, HistogramReport)):
            self.diagnostics_reported.emit(report)

    def _end_training(self) -> None:
        self._trainer = None
        self._training_job = None
        if self.model is not None:
            self.model.eval()
            self.model.clear_cache(buffers=True)  # an idle model holds only its weights
        self._snapshot = None
        self._set_state(TrainingState.IDLE)

    def _on_training_finished(self, history: object) -> None:
        self.history = history
        self._end_training()
        if history is not None and self.model is not None and (
                getattr(history, "train_loss", None) or getattr(history, "batch_loss", None)):
            # the name, epoch count and curves go into the model's metadata: a saved file keeps them
            self.model_name = record_training(self.model, self.model_name, history)
            self.model.meta["training"] = {**self._run_settings,
                                           "epochs_done": len(getattr(history, "train_loss", []))}
            self.model_path = None  # no longer what the file holds
            self.model_changed.emit(self.model)
        if self.model is not None:
            self.weights_updated.emit(WeightsSnapshot(self.model, -1, -1))
        if history is not None:
            self.training_finished.emit(history)
        self.status_message.emit("training stopped" if getattr(history, "stopped", False)
                                 else "training finished")

    def _on_training_failed(self, message: str) -> None:
        self._end_training()
        self.training_failed.emit(message)
        self.status_message.emit(f"training failed: {message}")

    def _set_state(self, state: TrainingState) -> None:
        if state != self.state:
            self.state = state
            self.training_state_changed.emit(state)

    def _refuse_while_training(self, what: str) -> None:
        if self.is_training:
            raise RuntimeError(f"cannot {what} while training runs; stop it first")

    # ------------------------------------------------------------------ jobs
    def run_job(self, name: str, fn: Callable[[JobContext], Any],
                kind: JobKind = JobKind.OTHER) -> Job:
        """Run ``fn(ctx)`` on a new worker thread; returns its GUI-side handle. ``name``
        is what the user reads ("sweep"); ``kind`` is what the app tells jobs apart by.

        The job lives until its ``done`` signal has been delivered: then the thread is
        joined and the job and its worker are deleted, releasing the result and whatever
        ``fn`` captured. Slots copy what they need; nobody keeps the ``Job``."""
        thread = QThread()
        thread.setObjectName(f"cnnlab-{kind.value}")
        worker = JobWorker(fn)
        worker.moveToThread(thread)
        job = Job(name, worker, self, kind)
        thread.started.connect(worker.run)
        thread.finished.connect(worker.deleteLater)  # deleted in its own thread, at its end
        job.done.connect(self._reap_sender)
        self._threads[job] = (thread, worker)  # keep Python references while it runs
        thread.start()
        self.jobs_changed.emit()
        return job

    @property
    def training_job(self) -> Job | None:
        """The running training job (None when idle)."""
        return self._training_job

    def running_jobs(self) -> list[Job]:
        return [job for job in self._threads if job.running]

    def _reap_sender(self) -> None:
        job = self.sender()
        if isinstance(job, Job):
            self._reap(job)

    def _reap(self, job: Job) -> None:
        """The job's ``done`` was delivered: join its thread and delete it (after the
        remaining ``done`` slots have run: ``deleteLater``)."""
        pair = self._threads.pop(job, None)
        if pair is not None:
            thread, _worker = pair
            thread.quit()
            thread.wait()
        job.deleteLater()
        QTimer.singleShot(0, give_back_freed_memory)  # once the job and its result are gone
        self.jobs_changed.emit()

    def shutdown(self, timeout_ms: int = 3000) -> bool:
        """Stop training and every job, and join their threads. True if all ended."""
        if self._trainer is not None:
            self._trainer.stop()
        clean = True
        for job, (thread, _worker) in list(self._threads.items()):
            job.cancel()
            thread.quit()  # the thread's event loop ends once run() returns
            if thread.wait(timeout_ms):
                del self._threads[job]
            else:  # still running: keep the references (a collected running QThread aborts)
                clean = False
        return clean

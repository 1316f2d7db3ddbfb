"""The Model tab: the layer designer.

Left: the network as a table of layer *specs* (configs without the inferred input sizes),
with Add/Duplicate/Remove/Up/Down and a form for the selected layer. Every change re-runs
shape inference (``infer_shapes``, which never raises): an impossible configuration turns
its row red with the engine's message and is reported to the session, which disables
training. A valid change builds a fresh untrained model (debounced) and makes it the
session's model. Right: the preset picker, the model's ``summary()``, and the output-size
formula and receptive field of the selected conv/pool layer.
"""

from __future__ import annotations

import copy
from pathlib import Path

from PyQt6.QtCore import QSettings, Qt, QTimer
from PyQt6.QtGui import QFont, QFontDatabase
from PyQt6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app.panels.layer_form import NEW_LAYER_SPECS, LayerForm
from cnnlab.app.panels.layer_table import LayerList, shape_text
from cnnlab.app.panels.window_diagram import WindowDiagram
from cnnlab.engine.model import infer_shapes
from cnnlab.lab import presets
from cnnlab.lab.architecture_file import read_architecture, write_architecture
from cnnlab.lab.receptive_field import window_geometry

#: Models up to this many parameters are built on the GUI thread (≈ 60 ns per weight,
#: so ≤ ~40 ms); bigger ones are built in a job so the window never stalls.
SYNC_BUILD_PARAMS = 600_000
#: Quiet time after the last edit before the model is rebuilt (spin-box arrows repeat).
BUILD_DELAY_MS = 250
FOLLOWS = "follows an invalid layer"


class ModelPanel(QWidget):
    """The layer designer (see the module docstring). ``specs`` and ``input_shape`` are
    the design; ``architecture_error`` is None when it can be built and trained."""

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.specs: list[dict] = []
        self.input_shape: tuple[int, ...] = presets.MNIST_SHAPE
        self.design_name = "custom"
        self.rows = []  # engine.model.ShapeRow per layer
        self.geometry = []  # WindowGeometry | None per layer
        self.architecture_error: str | None = None
        self._built = None  # the last model this panel gave the session
        # input shape -> (specs, model, name, path) of the model a dataset switch replaced
        self._parked: dict[tuple[int, ...], tuple] = {}
        self._build_job = None
        self._build_generation = 0
        self._build_timer = QTimer(self)
        self._build_timer.setSingleShot(True)
        self._build_timer.setInterval(BUILD_DELAY_MS)
        self._build_timer.timeout.connect(self.build_now)
        self._build_ui()

        session.model_changed.connect(self._on_model_changed)
        session.about_to_train.connect(self.flush_pending_build)
        session.dataset_changed.connect(self._on_dataset_changed)
        session.training_state_changed.connect(self._on_training_state)
        if session.model is not None:
            self._on_model_changed(session.model)
        else:
            shape, specs = presets.preset_specs(presets.DEFAULT_PRESET)
            if session.dataset is not None:
                shape = session.dataset.input_shape
            self._set_design(specs, shape, presets.DEFAULT_PRESET, build=False)
        self._on_training_state(session.state)

    # ------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        # left: the layer list (table, buttons, totals, message) and the form
        self.layer_list = ll = LayerList()
        ll.add_requested.connect(self.add_layer)
        ll.duplicate_requested.connect(self.duplicate_layer)
        ll.remove_requested.connect(self.remove_layer)
        ll.move_requested.connect(self.move_layer)
        ll.selection_changed.connect(self._on_selection)
        # the widgets, by name, for tests and the main window
        self.table, self.add_menu, self.add_button = ll.table, ll.add_menu, ll.add_button
        self.duplicate_button, self.remove_button = ll.duplicate_button, ll.remove_button
        self.up_button, self.down_button = ll.up_button, ll.down_button
        self.input_label, self.total_label, self.message_label = (
            ll.input_label, ll.total_label, ll.message_label)
        self.form = LayerForm()
        self.form.spec_edited.connect(self._on_spec_edited)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 4, 0)
        lv.addWidget(ll, 1)
        lv.addWidget(self.form)

        # right: presets, summary, window diagram
        self.preset_combo = QComboBox()
        self.preset_combo.addItem("choose a preset…")
        self.preset_combo.addItems(list(presets.PRESETS))
        self.preset_combo.activated.connect(self._on_preset_activated)
        self.preset_description = QLabel()
        self.preset_description.setWordWrap(True)
        self.seed_box = QSpinBox()
        self.seed_box.setRange(0, 2**31 - 1)
        self.seed_box.setToolTip("seed of the initial weights (same seed → same weights)")
        self.reinit_button = QPushButton("New weights")
        self.reinit_button.setToolTip("rebuild the designed network with fresh, untrained "
                                      "weights for the current dataset")
        self.reinit_button.clicked.connect(self.reinitialize)
        preset_box = QGroupBox("Presets")
        pv = QVBoxLayout(preset_box)
        pv.addWidget(self.preset_combo)
        pv.addWidget(self.preset_description)
        seed_row = QHBoxLayout()
        seed_row.addWidget(QLabel("weight seed"))
        seed_row.addWidget(self.seed_box)
        seed_row.addStretch(1)
        seed_row.addWidget(self.reinit_button)
        pv.addLayout(seed_row)

        self.summary_title = QLabel()
        self.summary = QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.summary.setFont(mono)
        self.diagram = WindowDiagram()
        diagram_box = QGroupBox("Output size and receptive field")
        QVBoxLayout(diagram_box).addWidget(self.diagram)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(4, 0, 0, 0)
        rv.addWidget(preset_box)
        rv.addWidget(self.summary_title)
        rv.addWidget(self.summary, 1)
        rv.addWidget(diagram_box)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 11)
        self.splitter.setStretchFactor(1, 10)
        layout = QHBoxLayout(self)
        layout.addWidget(self.splitter)
        self._editing_widgets = [self.table, *ll.buttons, self.form, self.preset_combo,
                                 self.seed_box, self.reinit_button]

    # -------------------------------------------------------------- design
    def _set_design(self, specs: list[dict], input_shape, name: str, build: bool,
                    select: int | None = None) -> None:
        self.specs = [dict(s) for s in specs]
        self.input_shape = tuple(int(s) for s in input_shape)
        self.design_name = name
        self.refresh(select=select)
        if build:
            self.schedule_build()
        else:
            self._cancel_build()

    def _edited(self, select: int | None) -> None:
        """The user changed the layer list: it is no longer a named preset/file."""
        self.design_name = "custom"
        self.preset_combo.setCurrentIndex(0)
        self.preset_description.clear()
        self.refresh(select=select)
        self.schedule_build()

    def selected_row(self) -> int | None:
        return self.layer_list.selected_row()

    def add_layer(self, kind: str) -> None:
        """Insert a new ``kind`` layer after the selected one (or at the end)."""
        spec = copy.deepcopy(NEW_LAYER_SPECS[kind])
        row = self.selected_row()
        at = len(self.specs) if row is None else row + 1
        self.specs.insert(at, spec)
        self._edited(select=at)

    def duplicate_layer(self) -> None:
        row = self.selected_row()
        if row is not None:
            self.specs.insert(row + 1, copy.deepcopy(self.specs[row]))
            self._edited(select=row + 1)

    def remove_layer(self) -> None:
        row = self.selected_row()
        if row is not None:
            del self.specs[row]
            self._edited(select=min(row, len(self.specs) - 1) if self.specs else None)

    def move_layer(self, step: int) -> None:
        row = self.selected_row()
        if row is None or not 0 <= row + step < len(self.specs):
            return
        self.specs[row], self.specs[row + step] = self.specs[row + step], self.specs[row]
        self._edited(select=row + step)

    def _on_spec_edited(self, spec: dict) -> None:
        row = self.form.index
        if row is not None and row < len(self.specs):
            self.specs[row] = spec
            self._edited(select=row)

    def choose_preset(self, name: str) -> None:
        """Load preset ``name`` (adapted to the dataset's input shape) and build it."""
        shape, specs = presets.preset_specs(name)
        description = presets.PRESETS[name][2]
        ds = self.session.dataset
        if ds is not None and tuple(ds.input_shape) != shape:
            description += (f" — designed for {shape_text(shape)} inputs, adapted to "
                            f"{ds.name} ({shape_text(ds.input_shape)})")
            shape = ds.input_shape
        self.preset_combo.setCurrentText(name)
        self.preset_description.setText(description)
        self._set_design(specs, shape, name, build=True, select=0)

    def _on_preset_activated(self, index: int) -> None:
        if index > 0:
            self.choose_preset(self.preset_combo.itemText(index))

    # ------------------------------------------------------------ inference
    def refresh(self, select: int | None = None) -> None:
        """Re-run shape inference and redraw the table, totals and message."""
        resolved = presets.resolve_specs(self.specs, self.input_shape)
        self.rows = infer_shapes(resolved, self.input_shape)
        self.geometry = window_geometry(resolved, self.input_shape)
        error, error_row = self._find_error()
        self.architecture_error = error
        ds = self.session.dataset
        source = f" ({ds.name})" if ds is not None and tuple(ds.input_shape) == self.input_shape else ""
        self.input_label.setText(f"input: {shape_text(self.input_shape)}{source}")
        self.layer_list.show_design(self.specs, self.rows, error, error_row)
        if error:
            self.layer_list.show_message(error, is_error=True)
        else:
            self.layer_list.show_message(
                f"The network maps {shape_text(self.input_shape)} inputs to "
                f"{shape_text(self.rows[-1].output_shape)} class scores.", is_error=False)
        self.session.set_architecture_error(error)
        if select is not None and 0 <= select < len(self.specs):
            self.table.selectRow(select)
        self._on_selection()

    def _find_error(self) -> tuple[str | None, int | None]:
        """The first reason the design cannot be trained, and its row (None for the input)."""
        if not self.specs:
            return "The network has no layers: add some, or pick a preset.", None
        for row in self.rows:
            if row.error and row.error != FOLLOWS:
                return row.error, row.index
        out = self.rows[-1].output_shape
        ds = self.session.dataset
        if ds is not None and tuple(ds.input_shape) != self.input_shape:
            return (f"The network takes {shape_text(self.input_shape)} inputs but {ds.name} "
                    f"images are {shape_text(ds.input_shape)}: press “New weights” to rebuild "
                    f"it for this dataset, or choose another dataset."), None
        classes = ds.n_classes if ds is not None else None
        if len(out) != 1 or (classes is not None and out[0] != classes):
            want = f"{classes} class scores" if classes else "a flat vector of class scores"
            return (f"{self.rows[-1].name} #{len(self.rows) - 1}: the network ends in "
                    f"{shape_text(out)} but must end in {want} (e.g. Flatten, then "
                    f"Dense with {classes or 'one unit per class'} units)."), len(self.rows) - 1
        return None, None

    def _on_selection(self) -> None:
        row = self.selected_row()
        if row is None or row >= len(self.specs):
            self.form.set_spec(None, None)
            self.diagram.set_geometry_info(None)
            return
        if self.form.index != row or self.form.spec != self.specs[row]:
            self.form.set_spec(row, self.specs[row])
        geometry = self.geometry[row] if row < len(self.geometry) else None
        hint = ""
        if geometry is None and self.specs[row].get("type") in ("Conv2D", "MaxPool2D", "AvgPool2D"):
            hint = "Its input size is unknown: a layer before it is invalid or flattens the input."
        self.diagram.set_geometry_info(geometry, hint)

    # --------------------------------------------------------------- build
    def schedule_build(self) -> None:
        """Build the design after a quiet moment (if it is valid)."""
        self._build_generation += 1  # a build job still running is now stale
        if self.architecture_error:
            self._build_timer.stop()
        else:
            self._build_timer.start()

    def _cancel_build(self) -> None:
        self._build_timer.stop()
        self._build_generation += 1

    def build_now(self) -> None:
        """Build the design now (small nets here, big ones in a job) and hand the fresh
        model to the session. Does nothing while the design is invalid or training runs."""
        self._build_timer.stop()
        if self.architecture_error or self.session.is_training:
            return
        specs, shape, seed = [dict(s) for s in self.specs], self.input_shape, self.seed_box.value()
        name = f"{self.design_name} (untrained)"
        generation = self._build_generation
        if sum(r.n_params for r in self.rows) <= SYNC_BUILD_PARAMS:
            try:
                model = presets.build(specs, shape, seed=seed)
            except ValueError as exc:  # inference said valid; keep the app alive anyway
                self._show_message(f"Could not build the network: {exc}")
                return
            self._install(model, name, generation)
            return
        if self._build_job is not None:
            self._build_job.cancel()
        self.total_label.setText(self.total_label.text() + "  ·  building…")
        job = self.session.run_job("build model", lambda ctx: presets.build(specs, shape, seed=seed))
        job.finished.connect(lambda model: self._install(model, name, generation))
        job.failed.connect(lambda msg: self._show_message(f"Could not build the network: {msg}"))
        job.done.connect(lambda: self._job_done(job))
        self._build_job = job

    def flush_pending_build(self) -> None:
        """Training is about to start: an edit still waiting for its build (the quiet-moment
        timer, or a build job) is built now, synchronously, so Train uses what is shown."""
        if not (self._build_timer.isActive() or self._build_job is not None):
            return
        self._build_timer.stop()
        if self._build_job is not None:
            self._build_job.cancel()
        self._build_generation += 1
        if self.architecture_error or self.session.is_training:
            return
        try:
            model = presets.build([dict(s) for s in self.specs], self.input_shape,
                                  seed=self.seed_box.value())
        except ValueError as exc:
            self._show_message(f"Could not build the network: {exc}")
            return
        self._install(model, f"{self.design_name} (untrained)", self._build_generation)

    def _job_done(self, job) -> None:
        if self._build_job is job:
            self._build_job = None
            self.total_label.setText(self.total_label.text().replace("  ·  building…", ""))

    def _install(self, model, name: str, generation: int) -> None:
        if generation != self._build_generation or self.architecture_error:
            return  # the design changed while this one was being built
        self._built = model
        try:
            self.session.set_model(model, name)
        except RuntimeError as exc:  # training started meanwhile
            self._show_message(str(exc))

    def reinitialize(self) -> None:
        """Fresh untrained weights for the design, fitted to the current dataset."""
        ds = self.session.dataset
        shape = ds.input_shape if ds is not None else self.input_shape
        self._set_design(self.specs, shape, self.design_name, build=False)
        self._build_generation += 1
        self.build_now()

    def _show_message(self, text: str) -> None:
        self.layer_list.show_message(text, is_error=True)

    # ----------------------------------------------------- session signals
    def _on_model_changed(self, model) -> None:
        self._update_summary()
        if model is self._built:
            return
        # A model from a file (or the startup default): show its layers, do not rebuild.
        layers = presets.strip_sizes(model.get_config()["layers"])
        self.preset_combo.setCurrentIndex(0)
        self.preset_description.clear()
        self._set_design(layers, model.input_shape, "custom", build=False, select=0)

    def _on_dataset_changed(self, ds) -> None:
        shape = tuple(ds.input_shape)
        if shape == self.input_shape:
            self.refresh(select=self.selected_row())
            return
        # the design follows the data: rebuild it for the new image size. The model it
        # replaces is kept, so coming back to that image size with the design unchanged
        # brings back its (possibly trained) weights, not a fresh untrained copy.
        s = self.session
        if (s.model is not None and tuple(s.model.input_shape) == self.input_shape
                and not self.architecture_error and not self._build_timer.isActive()
                and self._build_job is None):
            self._parked[self.input_shape] = ([dict(sp) for sp in self.specs], s.model,
                                              s.model_name, s.model_path)
        parked = self._parked.pop(shape, None)
        if parked is not None and parked[0] == self.specs:
            _specs, model, name, path = parked
            self._set_design(self.specs, shape, self.design_name, build=False)
            self._built = model
            s.set_model(model, name, path)
            return
        self._set_design(self.specs, shape, self.design_name, build=True)

    def _on_training_state(self, state: str) -> None:
        editable = state == "idle"
        for w in self._editing_widgets:
            w.setEnabled(editable)
        if not editable:
            self._build_timer.stop()
        self._update_summary()

    def _update_summary(self) -> None:
        model = self.session.model
        if model is None:
            self.summary_title.setText("Summary: no model yet")
            self.summary.setPlainText("")
            return
        state = " — training" if self.session.is_training else ""
        self.summary_title.setText(f"Summary of the current model: {self.session.model_name}{state}")
        self.summary.setPlainText(model.summary())

    # --------------------------------------------------------------- files
    def save_architecture(self, path) -> None:
        """Write the designed layers (with inferred sizes) as JSON, atomically."""
        if not self.specs:
            raise ValueError("there are no layers to save")
        write_architecture(path, self.specs, self.input_shape)
        self.session.status_message.emit(f"saved architecture to {path}")

    def open_architecture(self, path) -> None:
        """Load an architecture JSON into the designer and build it (fitted to the
        dataset's input shape). Raises ``ValueError``/``OSError`` naming the file."""
        if self.session.is_training:
            raise RuntimeError("cannot change the network while training runs; stop it first")
        shape, specs = read_architecture(path)
        ds = self.session.dataset
        if ds is not None:
            shape = ds.input_shape
        elif not shape:
            shape = self.input_shape
        self.preset_combo.setCurrentIndex(0)
        self.preset_description.setText(f"from {Path(path).name}")
        self._set_design(specs, shape, Path(path).stem, build=True, select=0)

    # ------------------------------------------------------------ settings
    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("model/seed", self.seed_box.value())
        settings.setValue("model/splitter", self.splitter.saveState())

    def restore_settings(self, settings: QSettings) -> None:
        try:
            self.seed_box.setValue(int(settings.value("model/seed", self.seed_box.value())))
        except (TypeError, ValueError):
            pass
        state = settings.value("model/splitter")
        if state is not None:
            self.splitter.restoreState(state)


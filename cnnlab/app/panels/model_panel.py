"""The Model tab: the layer designer (layout and wiring only).

Left: the network as a table of layer *specs* with Add/Duplicate/Remove/Up/Down and a form
for the selected layer. The design itself (specs, shape inference, the first error) is a
Qt-free :class:`~cnnlab.lab.network_design.NetworkDesign`; an impossible configuration turns
its row red with the engine's message and is reported to the session, which disables
training. A valid change is built by :class:`~cnnlab.app.panels.model_builder.ModelBuilder`
(debounced; big nets in a job) and becomes the session's model. Right: the preset picker, the
model's ``summary()``, and the output-size formula and receptive field of the selected layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtGui import QFont, QFontDatabase
from PyQt6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cnnlab.app import settings as stored
from cnnlab.app.panels.layer_form import NEW_LAYER_SPECS, LayerForm
from cnnlab.app.panels.layer_table import LayerList
from cnnlab.app.panels.model_builder import SYNC_BUILD_PARAMS, ModelBuilder
from cnnlab.app.panels.preset_box import PresetBox
from cnnlab.app.panels.window_diagram import WindowDiagram
from cnnlab.lab import presets
from cnnlab.lab.architecture_file import read_architecture, write_architecture
from cnnlab.lab.network_design import DataTarget, NetworkDesign, shape_text
from cnnlab.lab.training import TrainingState

if TYPE_CHECKING:
    from cnnlab.app.session import Session

__all__ = ["ModelPanel", "SYNC_BUILD_PARAMS"]


class ModelPanel(QWidget):
    """The layer designer (see the module docstring). ``specs`` and ``input_shape`` are
    the design; ``architecture_error`` is None when it can be built and trained."""

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.design = NetworkDesign([], presets.MNIST_SHAPE)
        # input shape -> (specs, model, name, path) of the model a dataset switch replaced
        self._parked: dict[tuple[int, ...], tuple] = {}
        self._build_ui()
        self.builder = ModelBuilder(session, self.design, self.seed_box.value, self)
        self.builder.failed.connect(lambda _message: self.refresh(select=self.selected_row()))
        self.builder.busy.connect(self._on_build_busy)

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
        preset_box = PresetBox()
        self.preset_combo, self.preset_description = preset_box.combo, preset_box.description
        self.seed_box, self.reinit_button = preset_box.seed_box, preset_box.reinit_button
        self.preset_combo.activated.connect(self._on_preset_activated)
        self.reinit_button.clicked.connect(self.reinitialize)

        self.summary_title = QLabel()
        self.summary_title.setWordWrap(True)  # a long model name must not widen the window
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
    # the design's parts, by name, for tests and the main window
    specs = property(lambda self: self.design.specs)
    input_shape = property(lambda self: self.design.input_shape)
    rows = property(lambda self: self.design.rows)
    #: why the design cannot be trained: an impossible layer, or a build that failed
    architecture_error = property(lambda self: self.design.error or self.builder.error)

    def _set_design(self, specs: list[dict], input_shape, name: str, build: bool,
                    select: int | None = None) -> None:
        self.design.set(specs, input_shape, name)
        self.builder.forget_failure()  # a new design: the last one's failed build is moot
        self.refresh(select=select)
        if build:
            self.builder.schedule()
        else:
            self.builder.cancel()

    def _edited(self, select: int | None) -> None:
        """The user changed the layer list: it is no longer a named preset/file."""
        self.preset_combo.setCurrentIndex(0)
        self.preset_description.clear()
        self.builder.forget_failure()
        self.refresh(select=select)
        self.builder.schedule()

    def selected_row(self) -> int | None:
        return self.layer_list.selected_row()

    def add_layer(self, kind: str) -> None:
        """Insert a new ``kind`` layer after the selected one (or at the end)."""
        row = self.selected_row()
        self._edited(self.design.add(NEW_LAYER_SPECS[kind], None if row is None else row + 1))

    def duplicate_layer(self) -> None:
        row = self.selected_row()
        if row is not None:
            self._edited(self.design.duplicate(row))

    def remove_layer(self) -> None:
        row = self.selected_row()
        if row is not None:
            self._edited(self.design.remove(row))

    def move_layer(self, step: int) -> None:
        row = self.selected_row()
        if row is not None and 0 <= row + step < len(self.specs):
            self._edited(self.design.move(row, step))

    def _on_spec_edited(self, spec: dict) -> None:
        row = self.form.index
        if row is not None and row < len(self.specs):
            self._edited(self.design.replace(row, spec))

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
        ds = self.session.dataset
        self.design.set_target(None if ds is None else
                               DataTarget(ds.name, tuple(ds.input_shape), ds.n_classes))
        source = f" ({ds.name})" if ds is not None and tuple(ds.input_shape) == self.input_shape else ""
        self.input_label.setText(f"input: {shape_text(self.input_shape)}{source}")
        d, b = self.design, self.builder
        if d.error or not b.error:
            self.layer_list.show_design(d.specs, d.rows, d.error, d.error_row)
            self.layer_list.show_message(d.describe(), is_error=bool(d.error))
        else:  # the layers fit together but the network could not be built (memory budget)
            self.layer_list.show_design(d.specs, d.rows, b.error, b.error_row)
            self.layer_list.show_message(b.error, is_error=True)
        self.session.set_architecture_error(self.architecture_error)
        if select is not None and 0 <= select < len(self.specs):
            self.table.selectRow(select)
        self._on_selection()

    def _on_selection(self) -> None:
        row = self.selected_row()
        if row is None or row >= len(self.specs):
            self.form.set_spec(None, None)
            self.diagram.set_geometry_info(None)
            return
        if self.form.index != row or self.form.spec != self.specs[row]:
            self.form.set_spec(row, self.specs[row])
        geometry = self.design.geometry[row] if row < len(self.design.geometry) else None
        self.diagram.set_geometry_info(geometry, self.design.geometry_hint(row))

    # --------------------------------------------------------------- build
    def build_now(self) -> None:
        """Build the design now and hand the fresh model to the session."""
        self.builder.build_now()

    def flush_pending_build(self) -> None:
        """Training is about to start: build a pending edit now (see ``ModelBuilder.flush``)."""
        self.builder.flush()

    def _on_build_busy(self, busy: bool) -> None:
        text = self.total_label.text().replace("  ·  building…", "")
        self.total_label.setText(text + ("  ·  building…" if busy else ""))

    def reinitialize(self) -> None:
        """Fresh untrained weights for the design, fitted to the current dataset."""
        ds = self.session.dataset
        shape = ds.input_shape if ds is not None else self.input_shape
        self._set_design(self.specs, shape, self.design.name, build=False)
        self.builder.build_now()

    # ----------------------------------------------------- session signals
    def _on_model_changed(self, model) -> None:
        self._update_summary()
        if model is self.builder.built:
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
                and not self.architecture_error and not self.builder.pending):
            self._parked[self.input_shape] = ([dict(sp) for sp in self.specs], s.model,
                                              s.model_name, s.model_path)
        parked = self._parked.pop(shape, None)
        if parked is not None and parked[0] == self.specs:
            _specs, model, name, path = parked
            self._set_design(self.specs, shape, self.design.name, build=False)
            self.builder.built = model
            s.set_model(model, name, path)
            return
        self._set_design(self.specs, shape, self.design.name, build=True)

    def _on_training_state(self, state: TrainingState) -> None:
        editable = state == TrainingState.IDLE
        for w in self._editing_widgets:
            w.setEnabled(editable)
        if not editable:
            self.builder.timer.stop()
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
        stored.read_spin(settings, "model/seed", self.seed_box)
        state = stored.read(settings, "model/splitter", None, "bytes")
        if state is not None:
            self.splitter.restoreState(state)


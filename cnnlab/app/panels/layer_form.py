"""The layer designer's form: edit one layer spec's parameters with real widgets.

A *spec* is a layer config without the inferred input sizes (see
``cnnlab.lab.presets``). :class:`LayerForm` shows the fields of the selected layer's
type and emits ``spec_edited(spec)`` with a new dict on every change. Sizes (kernel,
stride, padding, dilation, pool size) are edited as square values; a non-square pair read
from a file is kept until its field is touched.
"""

from __future__ import annotations

import math

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from cnnlab.app.widgets import LogSpinBox
from cnnlab.engine.limits import limit

#: Layer kinds offered by the "Add layer" menu, with the spec a new one starts from.
NEW_LAYER_SPECS: dict[str, dict] = {
    "Conv2D": {"type": "Conv2D", "out_channels": 8, "kernel_size": 3, "stride": 1,
               "padding": 1, "dilation": 1, "bias": True, "init": "he_normal"},
    "MaxPool2D": {"type": "MaxPool2D", "kernel_size": 2},
    "AvgPool2D": {"type": "AvgPool2D", "kernel_size": 2},
    "Flatten": {"type": "Flatten"},
    "Dense": {"type": "Dense", "out_features": 10, "bias": True, "init": "he_normal"},
    "ReLU": {"type": "ReLU"},
    "LeakyReLU": {"type": "LeakyReLU", "negative_slope": 0.01},
    "Tanh": {"type": "Tanh"},
    "Sigmoid": {"type": "Sigmoid"},
    "Dropout": {"type": "Dropout", "p": 0.5},
    "Normalize": {"type": "Normalize", "mean": 0.5, "std": 1.0},
}

INITIALIZERS = ("he_normal", "glorot_uniform", "normal", "uniform", "zeros")
_INIT_SCALE = {"normal": ("sigma", 0.01), "uniform": ("b", 0.05)}  # uniform: U(-b, b)

# (key, label, kind, minimum, maximum): kinds are size, int, float, init, bias, values.
# Size ranges come from the engine, so the form allows exactly what a file may hold.
_WEIGHTS = [("init", "init", "init", 0, 0), ("bias", "bias", "bias", 0, 0)]


def _pool(kind: str) -> list[tuple]:
    return [("kernel_size", "pool size", "size", *limit(kind, "kernel_size")),
            ("stride", "stride", "pool_stride", 0, limit(kind, "stride")[1])]


FIELDS: dict[str, list[tuple]] = {
    "Conv2D": [("out_channels", "filters", "int", *limit("Conv2D", "out_channels")),
               ("kernel_size", "kernel size", "size", *limit("Conv2D", "kernel_size")),
               ("stride", "stride", "size", *limit("Conv2D", "stride")),
               ("padding", "padding", "size", *limit("Conv2D", "padding")),
               ("dilation", "dilation", "size", *limit("Conv2D", "dilation")), *_WEIGHTS],
    "MaxPool2D": _pool("MaxPool2D"),
    "AvgPool2D": _pool("AvgPool2D"),
    "Dense": [("out_features", "units", "int", *limit("Dense", "out_features")), *_WEIGHTS],
    "LeakyReLU": [("negative_slope", "slope", "float", 0.0, 1.0)],
    "Dropout": [("p", "p (drop probability)", "float", 0.0, 0.95)],
    "Normalize": [("mean", "mean", "values", 0, 0), ("std", "std", "values", 0, 0)],
}


def size_text(value) -> str:
    """``3`` → ``"3×3"``; ``[3, 5]`` → ``"3×5"``."""
    if isinstance(value, (list, tuple)):
        return f"{value[0]}×{value[1]}"
    return f"{value}×{value}"


def _first(value) -> int:
    return int(value[0]) if isinstance(value, (list, tuple)) else int(value)


def _values_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(f"{v:g}" for v in value)
    return f"{value:g}"


def init_name(init) -> str:
    return init.get("name", "?") if isinstance(init, dict) else str(init)


def describe_spec(spec: dict) -> str:
    """The "parameters" column: ``"8 filters 3×3, stride 1, pad 1"``, ``"100 units"``…"""
    kind = spec.get("type")
    if kind == "Conv2D":
        text = (f"{spec.get('out_channels')} filters {size_text(spec.get('kernel_size'))}, "
                f"stride {_values_text(spec.get('stride', 1))}, "
                f"pad {_values_text(spec.get('padding', 0))}")
        if spec.get("dilation", 1) not in (1, [1, 1]):
            text += f", dilation {_values_text(spec['dilation'])}"
    elif kind in ("MaxPool2D", "AvgPool2D"):
        stride = spec.get("stride")
        text = size_text(spec.get("kernel_size"))
        text += f", stride {_values_text(stride if stride is not None else spec.get('kernel_size'))}"
    elif kind == "Dense":
        text = f"{spec.get('out_features')} units"
    elif kind == "LeakyReLU":
        return f"slope {spec.get('negative_slope', 0.01):g}"
    elif kind == "Dropout":
        return f"p = {spec.get('p', 0.5):g}"
    elif kind == "Normalize":
        return f"(x − {_values_text(spec.get('mean', 0.0))}) / {_values_text(spec.get('std', 1.0))}"
    else:
        return ""
    if kind in ("Conv2D", "Dense") and spec.get("bias") is False:
        text += ", no bias"
    return text


def _parse_values(text: str) -> float | list[float]:
    """``"0.5"`` → 0.5; ``"0.49, 0.48, 0.45"`` → a per-channel list. ValueError if bad."""
    parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"expected a number or numbers separated by commas, got {text!r}")
    return values[0] if len(values) == 1 else values


class LayerForm(QGroupBox):
    """Fields of one layer spec; ``spec_edited(dict)`` fires with the new spec."""

    spec_edited = pyqtSignal(dict)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Selected layer", parent)
        self.form = QFormLayout(self)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.spec: dict | None = None
        self.index: int | None = None
        self.fields: dict[str, QWidget] = {}  # key -> editor (tests drive these)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.set_spec(None, None)

    def set_spec(self, index: int | None, spec: dict | None) -> None:
        """Show the fields of ``spec`` (the layer at ``index``), or a hint when None."""
        self.index, self.spec = index, dict(spec) if spec else None
        while self.form.rowCount():
            self.form.removeRow(0)
        self.fields = {}
        self.note = QLabel()
        self.note.setWordWrap(True)
        if spec is None:
            self.setTitle("Selected layer")
            self.note.setText("Select a layer in the table to edit its parameters.")
            self.form.addRow(self.note)
            return
        kind = spec.get("type", "?")
        self.setTitle(f"{kind} #{index}")
        fields = FIELDS.get(kind, [])
        if not fields:
            self.note.setText(f"{kind} has no parameters.")
            self.form.addRow(self.note)
        for key, label, field_kind, lo, hi in fields:
            editor = self._editor(key, field_kind, lo, hi, spec)
            self.fields[key] = editor
            self.form.addRow(label, editor)

    # ------------------------------------------------------------ editors
    def _editor(self, key: str, kind: str, lo, hi, spec: dict) -> QWidget:
        value = spec.get(key)
        if kind in ("int", "size", "pool_stride"):
            box = QSpinBox()
            box.setRange(lo, hi)
            box.setAccelerated(True)
            if kind == "pool_stride":
                box.setSpecialValueText("= pool size")
                box.setValue(0 if value is None else _first(value))
            else:
                box.setValue(_first(value if value is not None else lo))
            if isinstance(value, (list, tuple)) and value[0] != value[1]:
                box.setToolTip(f"{key} is {size_text(value)}; editing makes it square")
            box.valueChanged.connect(lambda v, k=key, pk=kind: self._set(
                k, None if pk == "pool_stride" and v == 0 else int(v)))
            return box
        if kind == "float":
            box = QDoubleSpinBox()
            box.setDecimals(3)
            box.setRange(lo, hi)
            box.setSingleStep(0.01 if key == "negative_slope" else 0.05)
            box.setValue(float(value if value is not None else lo))
            box.valueChanged.connect(lambda v, k=key: self._set(k, float(v)))
            return box
        if kind == "bias":
            box = QCheckBox("add a bias per output")
            box.setChecked(bool(spec.get("bias", True)))
            box.toggled.connect(lambda on: self._set("bias", bool(on)))
            return box
        if kind == "values":
            edit = QLineEdit(_values_text(value if value is not None else 0.0))
            edit.setToolTip("a number, or one per channel separated by commas")
            edit.editingFinished.connect(lambda k=key, e=edit: self._set_values(k, e))
            return edit
        if kind == "init":
            return self._init_editor(spec.get("init", "he_normal"))
        raise ValueError(f"unknown field kind {kind!r}")  # pragma: no cover - table above

    def _init_editor(self, init) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        combo = QComboBox()
        combo.addItems(INITIALIZERS)
        # typed as 1e-5 (the exercises' σ) or 0.01; the arrows step 1, 2, 5 per decade
        scale = LogSpinBox(1e-8, 10.0, 0.01)
        scale.setToolTip("σ of normal(σ), or b of uniform(−b, b): type a number such as 0.01 "
                         "or 1e-5")
        name = init_name(init)
        combo.setCurrentText(name if name in INITIALIZERS else "he_normal")
        if name in _INIT_SCALE:
            arg, default = _INIT_SCALE[name]
            scale.setValue(float(init.get(arg, default)) if isinstance(init, dict) else default)
        else:
            scale.setValue(0.01)
        scale.setEnabled(name in _INIT_SCALE)
        row.addWidget(combo, 2)
        row.addWidget(scale, 1)
        box.combo, box.scale = combo, scale  # type: ignore[attr-defined]

        def emit(*_):
            chosen = combo.currentText()
            scale.setEnabled(chosen in _INIT_SCALE)
            if chosen == "normal":
                self._set("init", {"name": "normal", "sigma": scale.value()})
            elif chosen == "uniform":
                self._set("init", {"name": "uniform", "a": -scale.value(), "b": scale.value()})
            else:
                self._set("init", chosen)

        combo.currentTextChanged.connect(emit)
        scale.valueChanged.connect(emit)
        return box

    # ------------------------------------------------------------ changes
    def _set(self, key: str, value) -> None:
        if self.spec is None:
            return
        spec = dict(self.spec)
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
        if spec != self.spec:
            self.spec = spec
            self.spec_edited.emit(dict(spec))

    def _set_values(self, key: str, edit: QLineEdit) -> None:
        try:
            value = _parse_values(edit.text())
        except ValueError as exc:
            edit.setToolTip(str(exc))
            edit.setStyleSheet("background: #fbdada;")
            return
        edit.setStyleSheet("")
        edit.setToolTip("a number, or one per channel separated by commas")
        self._set(key, value)

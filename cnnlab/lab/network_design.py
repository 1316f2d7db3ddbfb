"""A network being designed: the layer list the Model tab edits, with inferred shapes.

A *spec* is a layer config without the sizes that follow from the previous layer
(see :mod:`cnnlab.lab.presets`). :class:`NetworkDesign` holds the specs and the input shape,
edits them (add, duplicate, remove, move, replace) and after every edit re-runs shape
inference, which never raises: an impossible layer gets its row's ``error``, and
:attr:`NetworkDesign.error` is the first reason the design cannot be trained on the given
dataset (or None). Qt-free, so the designer's behaviour is tested without a window::

    design = NetworkDesign.from_preset("LeNet-5 (classic)")
    design.add({"type": "Dropout", "p": 0.5}, at=5)
    design.error            # None, or "Dense #7: ..."
    model = design.build(seed=0)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from cnnlab.engine.model import Sequential, infer_shapes
from cnnlab.lab import presets
from cnnlab.lab.receptive_field import window_geometry

#: The error text of a row whose input size is unknown because an earlier layer is invalid.
FOLLOWS = "follows an invalid layer"


def shape_text(shape) -> str:
    """``(1, 28, 28)`` -> ``"1×28×28"``; ``None`` -> ``"—"``."""
    return "—" if shape is None else "×".join(str(int(s)) for s in shape)


@dataclass(frozen=True)
class DataTarget:
    """What the design must fit: the dataset's name, image shape and number of classes."""
    name: str
    input_shape: tuple[int, ...]
    n_classes: int


class NetworkDesign:
    """Specs + input shape + the results of shape inference (``rows``, ``geometry``,
    ``error``, ``error_row``), kept consistent: every edit re-infers."""

    def __init__(self, specs: list[dict], input_shape, name: str = "custom",
                 target: DataTarget | None = None):
        self.target = target
        self.set(specs, input_shape, name)

    @classmethod
    def from_preset(cls, name: str, target: DataTarget | None = None) -> NetworkDesign:
        """Preset ``name``, adapted to ``target``'s image shape when one is given."""
        shape, specs = presets.preset_specs(name)
        if target is not None:
            shape = target.input_shape
        return cls(specs, shape, name, target)

    # ---------------------------------------------------------------- edits
    def set(self, specs: list[dict], input_shape, name: str) -> None:
        """Replace the whole design."""
        self.specs = [copy.deepcopy(dict(s)) for s in specs]
        self.input_shape = tuple(int(s) for s in input_shape)
        self.name = name
        self.refresh()

    def set_target(self, target: DataTarget | None) -> None:
        self.target = target
        self.refresh()

    def add(self, spec: dict, at: int | None = None) -> int:
        """Insert ``spec`` at ``at`` (the end by default); returns its row."""
        at = len(self.specs) if at is None else max(0, min(at, len(self.specs)))
        self.specs.insert(at, copy.deepcopy(spec))
        return self._edited(at)

    def duplicate(self, row: int) -> int:
        self.specs.insert(row + 1, copy.deepcopy(self.specs[row]))
        return self._edited(row + 1)

    def remove(self, row: int) -> int | None:
        """Remove ``row``; returns the row to select next (None when the list is empty)."""
        del self.specs[row]
        return self._edited(min(row, len(self.specs) - 1) if self.specs else None)

    def move(self, row: int, step: int) -> int:
        """Swap ``row`` with ``row + step`` when both exist; returns the moved row."""
        if not 0 <= row + step < len(self.specs):
            return row
        self.specs[row], self.specs[row + step] = self.specs[row + step], self.specs[row]
        return self._edited(row + step)

    def replace(self, row: int, spec: dict) -> int:
        self.specs[row] = copy.deepcopy(spec)
        return self._edited(row)

    def _edited(self, row):
        self.name = "custom"  # an edited preset or file is no longer that preset or file
        self.refresh()
        return row

    # ------------------------------------------------------------ inference
    def refresh(self) -> None:
        """Re-run shape inference and find the first error."""
        resolved = presets.resolve_specs(self.specs, self.input_shape)
        self.rows = infer_shapes(resolved, self.input_shape)
        self.geometry = window_geometry(resolved, self.input_shape)
        self.error, self.error_row = self._first_error()

    @property
    def n_params(self) -> int:
        return sum(r.n_params for r in self.rows)

    @property
    def output_shape(self):
        return self.rows[-1].output_shape if self.rows else None

    def _first_error(self) -> tuple[str | None, int | None]:
        """The first reason the design cannot be trained, and its row (None for the input)."""
        if not self.specs:
            return "The network has no layers: add some, or pick a preset.", None
        for row in self.rows:
            if row.error and row.error != FOLLOWS:
                return row.error, row.index
        out, t = self.rows[-1].output_shape, self.target
        if t is not None and tuple(t.input_shape) != self.input_shape:
            return (f"The network takes {shape_text(self.input_shape)} inputs but {t.name} "
                    f"images are {shape_text(t.input_shape)}: press “New weights” to rebuild "
                    f"it for this dataset, or choose another dataset."), None
        classes = t.n_classes if t is not None else None
        if len(out) != 1 or (classes is not None and out[0] != classes):
            want = f"{classes} class scores" if classes else "a flat vector of class scores"
            return (f"{self.rows[-1].name} #{len(self.rows) - 1}: the network ends in "
                    f"{shape_text(out)} but must end in {want} (e.g. Flatten, then "
                    f"Dense with {classes or 'one unit per class'} units)."), len(self.rows) - 1
        return None, None

    def describe(self) -> str:
        """One line under the layer list: the error, or what the network maps to what."""
        if self.error:
            return self.error
        return (f"The network maps {shape_text(self.input_shape)} inputs to "
                f"{shape_text(self.output_shape)} class scores.")

    def geometry_hint(self, row: int) -> str:
        """Why a conv/pool row has no window diagram (empty when it has one)."""
        if (row < len(self.geometry) and self.geometry[row] is None
                and self.specs[row].get("type") in ("Conv2D", "MaxPool2D", "AvgPool2D")):
            return "Its input size is unknown: a layer before it is invalid or flattens the input."
        return ""

    # ---------------------------------------------------------------- build
    def build(self, seed: int | None = None) -> Sequential:
        """A fresh model with initial weights drawn from ``seed``. Raises ``ValueError``
        when the design is invalid (or cannot be allocated)."""
        if self.error:
            raise ValueError(self.error)
        return presets.build([dict(s) for s in self.specs], self.input_shape, seed=seed)

    def snapshot(self) -> tuple[list[dict], tuple[int, ...]]:
        """Copies of the specs and input shape, for building in another thread."""
        return [copy.deepcopy(s) for s in self.specs], self.input_shape

"""The Qt-free network design behind the Model tab: edits re-infer shapes and errors."""

import numpy as np
import pytest

from cnnlab.lab import presets
from cnnlab.lab.network_design import DataTarget, NetworkDesign, shape_text

MNIST = DataTarget("MNIST sample", (1, 28, 28), 10)
CIFAR = DataTarget("CIFAR-10 sample", (3, 32, 32), 10)


def test_preset_design_is_valid_and_builds_the_preset():
    design = NetworkDesign.from_preset(presets.DEFAULT_PRESET, MNIST)
    assert design.error is None and design.error_row is None
    assert design.output_shape == (10,)
    model = design.build(seed=0)
    expected = presets.build_preset(presets.DEFAULT_PRESET, seed=0)
    assert model.n_params == design.n_params == expected.n_params
    for a, b in zip(model.get_weights(), expected.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_edits_keep_inference_current_and_name_custom():
    design = NetworkDesign.from_preset(presets.DEFAULT_PRESET, MNIST)
    n = len(design.specs)
    assert design.duplicate(0) == 1 and len(design.specs) == n + 1
    assert design.name == "custom"
    before = NetworkDesign.from_preset(presets.DEFAULT_PRESET, MNIST).n_params
    # the copy takes the first conv's 8 channels in: sizes are re-inferred, still valid
    assert design.error is None and design.n_params > before
    assert design.specs[1] == design.specs[0]
    design.remove(1)
    assert design.error is None and len(design.specs) == n
    assert design.move(0, -1) == 0  # nothing above the first row
    moved = design.move(0, 1)
    assert moved == 1 and design.specs[1]["type"] == "Conv2D"


def test_impossible_layer_names_its_row_and_build_refuses():
    design = NetworkDesign.from_preset(presets.DEFAULT_PRESET, MNIST)
    conv = dict(design.specs[0], kernel_size=40)
    design.replace(0, conv)
    assert design.error_row == 0 and "Conv2D #0" in design.error
    assert design.rows[1].error == "follows an invalid layer"
    with pytest.raises(ValueError, match="Conv2D #0"):
        design.build()


def test_dataset_shape_and_classes_are_checked():
    design = NetworkDesign.from_preset(presets.DEFAULT_PRESET, MNIST)
    design.set_target(CIFAR)
    assert "3×32×32" in design.error and design.error_row is None
    design.set(design.specs, CIFAR.input_shape, design.name)
    assert design.error is None
    design.set_target(DataTarget("five classes", (3, 32, 32), 5))
    assert "must end in 5 class scores" in design.error


def test_empty_design_says_what_to_do():
    design = NetworkDesign([], (1, 28, 28))
    assert "no layers" in design.error and "no layers" in design.describe()
    assert shape_text((1, 28, 28)) == "1×28×28" and shape_text(None) == "—"

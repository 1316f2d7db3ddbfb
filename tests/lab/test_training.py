"""TrainingConfig: the loss reduction and the Keras-style metrics it carries."""

import pytest

from cnnlab.lab.training import TrainingConfig


def test_loss_reduction_and_metrics():
    cfg = TrainingConfig(loss_reduction="sum", metrics=["accuracy", "precision"])
    assert cfg.metrics == ("accuracy", "precision") and cfg.make_loss().reduction == "sum"
    assert TrainingConfig().make_loss().reduction == "mean"
    assert TrainingConfig(metrics="precision").metrics == ("precision",)
    with pytest.raises(ValueError, match="loss_reduction must be 'mean' or 'sum'"):
        TrainingConfig(loss_reduction="max")
    with pytest.raises(ValueError, match="unknown metric 'recall'"):
        TrainingConfig(metrics=("recall",))
    assert cfg.with_(epochs=2).metrics == ("accuracy", "precision")

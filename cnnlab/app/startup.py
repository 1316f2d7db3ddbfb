"""What the app loads before the window opens: the MNIST sample and the default model."""

from __future__ import annotations

from cnnlab.app.session import Session, load_dataset
from cnnlab.engine.model import ModelFileError
from cnnlab.engine.model import load as load_model_file
from cnnlab.lab.presets import DEFAULT_PRESET, build_preset
from cnnlab.resources import resource_path

DEFAULT_MODEL = ("models", "digits.npz")


def default_model_name(model) -> str:
    """``"default digits (98.1% on sample test)"`` from the model's metadata."""
    meta = model.get_config().get("meta") or {}
    acc = meta.get("test_accuracy")
    suffix = f" ({100 * acc:.1f}% on sample test)" if isinstance(acc, (int, float)) else ""
    return f"default digits{suffix}"


def load_startup_state(session: Session) -> list[str]:
    """Load the bundled MNIST sample and the shipped digit model into ``session``.

    Never raises: returns messages describing what could not be loaded (the app then
    starts with what it has, e.g. an untrained default network).
    """
    problems: list[str] = []
    try:
        session.set_dataset(load_dataset("mnist", "sample"))
    except (OSError, ValueError) as exc:
        problems.append(f"Could not load the bundled MNIST sample: {exc}")
    path = resource_path(*DEFAULT_MODEL)
    try:
        model = load_model_file(path)
        session.set_model(model, default_model_name(model), path)  # one model_changed
    except (OSError, ModelFileError) as exc:
        problems.append(f"Could not load the default digit model {path}: {exc}")
        session.set_model(build_preset(DEFAULT_PRESET), f"{DEFAULT_PRESET} (untrained)")
    return problems

"""What a model has been through, kept in its metadata so a saved file remembers it.

``Sequential.meta`` is written into the model file (``config["meta"]``). After a training
run :func:`record_training` adds to it:

- ``"name"``: the model's name with its training state, ``"small CNN (trained 5 epochs)"``;
- ``"epochs_trained"``: completed epochs over all runs (int);
- ``"history"``: the last run's per-epoch curves (``train_loss``, ``train_acc``,
  ``val_loss``, ``val_acc``, ``epoch_seconds``; ``None`` where there was no validation)
  and ``stopped``.

:func:`name_from_meta` reads the name back when the file is loaded.
"""

from __future__ import annotations

from cnnlab.lab.drawing import model_base_name

#: The per-epoch lists of a ``History`` kept in the file (the per-batch ones are too long).
EPOCH_FIELDS = ("train_loss", "train_acc", "val_loss", "val_acc", "epoch_seconds",
                "train_precision", "val_precision")  # precision: empty unless tracked


def trained_name(base: str, epochs: int, partly: bool = False) -> str:
    """``"net (trained 3 epochs)"``; ``"net (partly trained)"`` when a run stopped inside
    its first epoch and nothing before it was trained."""
    base = model_base_name(base)
    if epochs <= 0:
        return f"{base} (partly trained)" if partly else f"{base} (untrained)"
    return f"{base} (trained {epochs} epoch{'s' if epochs != 1 else ''})"


def history_summary(history) -> dict:
    """The JSON-safe per-epoch part of an ``engine.trainer.History``."""
    summary = {name: [None if v is None else float(v) for v in getattr(history, name, [])]
               for name in EPOCH_FIELDS}
    summary["stopped"] = bool(getattr(history, "stopped", False))
    return summary


def record_training(model, name: str, history) -> str:
    """Add a finished (or stopped) run to ``model.meta`` and return the model's new name.
    A run with no completed epoch but some batches makes an untrained model "partly
    trained"; a run with no batch at all changes nothing."""
    epochs = len(getattr(history, "train_loss", []))
    if not epochs and not getattr(history, "batch_loss", None):
        return name
    before = model.meta.get("epochs_trained")
    if before is None:  # a shipped model says how it was trained
        before = (model.meta.get("training") or {}).get("epochs", 0)
    before = before if isinstance(before, int) and before >= 0 else 0
    total = before + epochs
    new_name = trained_name(name, total, partly=True)
    model.meta["epochs_trained"] = total
    model.meta["history"] = history_summary(history)
    model.meta["name"] = new_name
    return new_name


def name_from_meta(meta: dict | None, fallback: str) -> str:
    """The name a loaded model had when it was saved (``fallback``, e.g. the file's stem,
    when the file has none)."""
    name = (meta or {}).get("name")
    return name if isinstance(name, str) and name.strip() else fallback


def is_trained(name: str) -> bool:
    """Whether a model of this name holds training worth keeping (everything but a freshly
    built "(untrained)" network)."""
    return "(untrained)" not in name and name != "no model"


#: File ▸ Recent models keeps this many model files, the most recent first.
RECENT_LIMIT = 8


def recent_models(paths, new_path=None, limit: int = RECENT_LIMIT) -> list[str]:
    """The recent-models list after using ``new_path`` (None: just clean ``paths``): most
    recent first, each file once, at most ``limit``, only strings. A stored list that is
    not a list of strings is refused with ``ValueError`` (the settings file is the user's
    to edit)."""
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ValueError(f"expected a list of file paths, got {str(paths)[:60]!r}")
    out = [] if new_path is None else [str(new_path)]
    for p in paths:
        if p and p not in out:
            out.append(p)
    return out[:limit]

"""What training reports and keeps: a report per batch and per epoch (sent to callbacks,
small and immutable) and the ``History`` of a ``fit`` (with its CSV export)."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field

from cnnlab.files import write_atomically


@dataclass(frozen=True)
class BatchReport:
    """Emitted after every batch. ``epoch``/``batch`` are 1-based; ``loss``/``acc`` are
    this batch's data loss (no L1/L2 penalty) and accuracy; ``seconds`` since fit start."""

    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float
    acc: float
    samples_per_s: float
    seconds: float


@dataclass(frozen=True)
class EpochReport:
    """Emitted after every completed epoch; ``seconds`` is the epoch's duration, time
    spent paused left out."""

    epoch: int
    epochs: int
    train_loss: float
    train_acc: float
    val_loss: float | None
    val_acc: float | None
    seconds: float
    train_precision: float | None = None  # macro precision, when the trainer tracks it
    val_precision: float | None = None


@dataclass
class History:
    """What a ``fit`` produced: one entry per batch (``batch_*``) or per completed epoch."""

    batch_loss: list[float] = field(default_factory=list)
    batch_acc: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float | None] = field(default_factory=list)
    val_acc: list[float | None] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    train_precision: list[float] = field(default_factory=list)  # empty unless tracked
    val_precision: list[float | None] = field(default_factory=list)
    stopped: bool = False

    def as_dict(self) -> dict:
        """Plain lists and the ``stopped`` flag (JSON-serializable)."""
        return asdict(self)

    def to_csv(self, path) -> None:
        """One row per completed epoch: ``epoch,train_loss,train_acc,val_loss,val_acc,
        seconds``, then ``train_precision,val_precision`` when the run tracked precision
        (empty cells when there was no validation). Written atomically."""
        precision = len(self.train_precision) == len(self.train_loss) > 0
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"]
                        + (["train_precision", "val_precision"] if precision else []))
        blank = lambda v: "" if v is None else v
        for i in range(len(self.train_loss)):
            writer.writerow([i + 1, self.train_loss[i], self.train_acc[i], blank(self.val_loss[i]),
                             blank(self.val_acc[i]), self.epoch_seconds[i]]
                            + ([self.train_precision[i], blank(self.val_precision[i])]
                               if precision else []))
        data = text.getvalue().encode("utf-8")
        write_atomically(path, lambda f: f.write(data))

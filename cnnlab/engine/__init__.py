"""The cnnlab engine: a from-scratch NumPy CNN (NCHW, float32 by default).

No Qt, no file formats except model ``.npz``; the only threads are ``parallel.py``'s,
which split big element-wise passes over batch slices. Usable from a notebook::

    from cnnlab.engine.layers import Conv2D, ReLU, MaxPool2D, Flatten, Dense
    from cnnlab.engine.model import Sequential
    model = Sequential([Conv2D(1, 8, 3, padding=1), ReLU(), MaxPool2D(2), Flatten(),
                        Dense(8 * 14 * 14, 10)], input_shape=(1, 28, 28))
    print(model.summary())
"""

from cnnlab.engine.allocator import keep_freed_memory
from cnnlab.engine.layers import (
                                  AvgPool2D,
                                  Conv2D,
                                  Dense,
                                  Dropout,
                                  Flatten,
                                  Layer,
                                  LeakyReLU,
                                  MaxPool2D,
                                  Normalize,
                                  ReLU,
                                  Sigmoid,
                                  Tanh,
                                  layer_from_config,
)
from cnnlab.engine.losses import MSELoss, SoftmaxCrossEntropy, l1_penalty, l2_penalty
from cnnlab.engine.model import ModelFileError, Sequential, ShapeRow, infer_shapes, load
from cnnlab.engine.optim import SGD, Adam
from cnnlab.engine.trainer import BatchReport, EpochReport, History, Trainer, TrainingDiverged, evaluate

__all__ = [
    "AvgPool2D", "Conv2D", "Dense", "Dropout", "Flatten", "Layer", "LeakyReLU", "MaxPool2D",
    "Normalize", "ReLU", "Sigmoid", "Tanh", "layer_from_config", "MSELoss",
    "SoftmaxCrossEntropy", "l1_penalty", "l2_penalty", "ModelFileError", "Sequential",
    "ShapeRow", "infer_shapes", "load", "SGD", "Adam", "BatchReport", "EpochReport",
    "History", "Trainer", "TrainingDiverged", "evaluate",
]

keep_freed_memory()  # a training step's arrays are reused, not faulted in again (allocator.py)

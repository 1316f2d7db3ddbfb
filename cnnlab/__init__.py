"""cnnlab: a desktop lab for learning how convolutional networks work."""

import os as _os
import sys as _sys

__version__ = "0.1.0"

if "numpy" not in _sys.modules:
    # Idle OpenBLAS workers sleep after ~1 M cycles instead of ~270 M, so the engine's
    # batch-parallel passes between matrix products get the other cores (see
    # cnnlab/engine/parallel.py). Read once, when NumPy loads OpenBLAS; a value the user
    # set wins.
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

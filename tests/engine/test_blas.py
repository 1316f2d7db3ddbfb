"""One BLAS thread for tiny work (cnnlab.engine.blas): set while any block runs, restored
when the last one ends, and the same predictions either way."""

import threading

import numpy as np
import pytest

from cnnlab.engine import blas
from cnnlab.engine.layers import Conv2D, Dense, Flatten, ReLU
from cnnlab.engine.model import Sequential

needs_openblas = pytest.mark.skipif(not blas.available(), reason="needs NumPy's OpenBLAS")


@needs_openblas
def test_the_thread_count_is_one_inside_and_restored_after_overlapping_blocks():
    setter = blas._get_setter()
    before = setter(3)  # whatever the suite runs with: make it visible
    try:
        entered, leave = threading.Event(), threading.Event()

        def other():
            with blas.one_blas_thread():
                entered.set()
                leave.wait(5)

        t = threading.Thread(target=other)
        t.start()
        entered.wait(5)
        with blas.one_blas_thread():
            assert setter(1) == 1  # one thread while both blocks run
        assert setter(1) == 1  # the other block still runs
        leave.set()
        t.join()
        assert setter(3) == 3  # the last one out restored the count
    finally:
        setter(before)


def test_small_batches_predict_the_same_with_one_thread():
    model = Sequential([Conv2D(1, 4, 3, rng=0), ReLU(), Flatten(), Dense(4 * 6 * 6, 3, rng=1)],
                       (1, 8, 8))
    x = np.random.default_rng(0).random((6, 1, 8, 8)).astype(np.float32)
    one_by_one = np.stack([model.predict_proba(img) for img in x])  # <= 4: one BLAS thread
    np.testing.assert_allclose(one_by_one, model.predict_proba(x), rtol=1e-6)

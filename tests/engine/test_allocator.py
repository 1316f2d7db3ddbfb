"""glibc keeps a training step's freed memory (cnnlab.engine.allocator), but still returns
big blocks (datasets) to the system when they are freed."""

import platform

import numpy as np
import pytest

import cnnlab.engine  # noqa: F401  (importing the engine sets the thresholds)
from cnnlab.engine import allocator

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="mallopt is glibc's")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@glibc
def test_thresholds_are_set_once_on_glibc():
    assert allocator.keep_freed_memory() is True
    assert allocator.keep_freed_memory() is True  # idempotent


@glibc
def test_a_freed_dataset_sized_block_goes_back_to_the_system():
    before = _rss_mb()
    big = np.ones(200 * 2**20 // 8)  # 200 MB, above MMAP_BYTES: its own mapping
    assert _rss_mb() - before > 150
    del big
    assert _rss_mb() - before < 50


@glibc
def test_step_sized_blocks_are_reused_without_new_page_faults():
    import resource

    def step():
        for _ in range(4):
            a = np.ones(4 * 2**20 // 8)  # 4 MB: below MMAP_BYTES, from the heap
            a += 1

    step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        step()
    # 20 steps x 4 blocks x 1,024 pages would fault 80 k times if each block were new
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults < 5_000


@glibc
def test_what_worker_threads_freed_goes_back_in_one_trim():
    import ctypes
    import threading

    def work():
        blocks = [np.ones(4 * 2**20 // 8) for _ in range(25)]  # 100 MB in 4 MB blocks
        del blocks

    before = _rss_mb()
    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ctypes.CDLL(None).malloc_trim(0)  # what the app does after every job
    assert _rss_mb() - before < 40

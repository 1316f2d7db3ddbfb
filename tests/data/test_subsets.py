"""Test-set subsets keep every class's share and are reproducible."""

import numpy as np
import pytest

from cnnlab.data.subsets import parse_test_subset, subset_indices, take_test_subset


def sorted_labels():
    return np.repeat(np.arange(10), 100)  # like the bundled sample: sorted by class


@pytest.mark.parametrize("n", [200, 1000 - 7, 37, 1])
def test_exact_size_balanced_and_sorted(n):
    y = sorted_labels()
    idx = subset_indices(y, n, seed=3)
    assert len(idx) == n and len(np.unique(idx)) == n and np.all(np.diff(idx) > 0)
    if n >= 10 * 10:
        counts = np.bincount(y[idx], minlength=10)
        assert counts.min() >= n // 10 - 2 and counts.max() <= n // 10 + 2


def test_reproducible_and_images_follow_labels():
    y = sorted_labels()
    x = np.arange(len(y))[:, None, None, None]  # image i holds the number i
    a = take_test_subset(x, y, 200, seed=1)
    b = take_test_subset(x, y, 200, seed=1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], y[a[0][:, 0, 0, 0]])  # x[i] is image i: labels line up
    assert not np.array_equal(subset_indices(y, 200, 1), subset_indices(y, 200, 2))


def test_all_and_bad_sizes():
    y = sorted_labels()
    assert len(subset_indices(y, None)) == len(subset_indices(y, 5000)) == 1000
    with pytest.raises(ValueError, match="positive whole number"):
        subset_indices(y, 0)
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        take_test_subset(np.zeros((3, 1, 2, 2)), np.zeros(2, dtype=int), 1)


def test_parse_test_subset():
    assert parse_test_subset("all") is None and parse_test_subset(" ") is None
    assert parse_test_subset("1,000") == 1000 and parse_test_subset("200") == 200
    for bad in ("abc", "0", "-5", "2.5"):
        with pytest.raises(ValueError, match="test subset"):
            parse_test_subset(bad)

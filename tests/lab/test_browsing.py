"""Dataset browsing: pages, class filter, jumping to an index."""

import numpy as np
import pytest

from cnnlab.lab.browsing import BrowseView


def test_pages_cover_every_image_once():
    y = np.arange(250) % 10
    view = BrowseView(y, page_size=60)
    assert view.pages == 5
    seen = np.concatenate([view.page_indices(p) for p in range(view.pages)])
    np.testing.assert_array_equal(seen, np.arange(250))
    np.testing.assert_array_equal(view.page_indices(99), np.arange(240, 250))  # clamped


def test_class_filter_and_jump():
    y = np.array([3, 1, 3, 0, 3, 3, 2])
    threes = BrowseView(y, page_size=2).with_class(3)
    np.testing.assert_array_equal(threes.indices, [0, 2, 4, 5])
    assert threes.pages == 2 and threes.locate(4) == (1, 0)
    assert all(y[i] == 3 for p in range(threes.pages) for i in threes.page_indices(p))
    with pytest.raises(ValueError, match="#1 is a 1, not shown while only class 3"):
        threes.locate(1)
    with pytest.raises(ValueError, match="no image #7"):
        threes.locate(7)
    empty = BrowseView(y).with_class(9)
    assert empty.pages == 1 and len(empty.page_indices(0)) == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="page_size"):
        BrowseView(np.zeros(3), page_size=0)
    with pytest.raises(ValueError, match="1-D"):
        BrowseView(np.zeros((3, 1)))

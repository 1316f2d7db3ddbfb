"""Paging through a dataset the way the MNIST notebooks first show it: a grid of images
with their labels, filtered by class, with a jump to any index (Data ▸ Browse…).

    view = BrowseView(y_train, page_size=60)
    view.page_indices(0)              # dataset indices of the first 60 images
    view = view.with_class(3)         # only the 3s
    page, slot = view.locate(1234)    # where image #1234 is (raises if it is filtered out)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BrowseView:
    """The images of labels ``y`` ``(N,)`` shown ``page_size`` at a time, only those of
    class ``label`` when it is set. ``indices`` (int64, ascending) are the dataset indices
    in view."""

    y: np.ndarray
    page_size: int = 60
    label: int | None = None

    def __post_init__(self):
        if isinstance(self.page_size, bool) or not isinstance(self.page_size, (int, np.integer)) \
                or self.page_size < 1:
            raise ValueError(f"BrowseView: page_size must be a positive whole number, "
                             f"got {self.page_size!r}")
        y = np.asarray(self.y)
        if y.ndim != 1:
            raise ValueError(f"BrowseView: labels must be 1-D, got shape {y.shape}")
        object.__setattr__(self, "y", y)
        keep = np.arange(len(y)) if self.label is None else np.flatnonzero(y == self.label)
        object.__setattr__(self, "indices", keep.astype(np.int64))

    def with_class(self, label: int | None) -> BrowseView:
        return BrowseView(self.y, self.page_size, label)

    @property
    def pages(self) -> int:
        """Number of pages (at least 1, an empty one when nothing is in view)."""
        return max(1, math.ceil(len(self.indices) / self.page_size))

    def page_indices(self, page: int) -> np.ndarray:
        """Dataset indices shown on ``page`` (0-based; clamped to the last page)."""
        page = min(max(int(page), 0), self.pages - 1)
        return self.indices[page * self.page_size:(page + 1) * self.page_size]

    def locate(self, index: int) -> tuple[int, int]:
        """``(page, position on the page)`` of dataset image ``index``. Raises
        ``ValueError`` when it is out of range or filtered out (saying which)."""
        if not 0 <= index < len(self.y):
            raise ValueError(f"no image #{index}: this set has #0 … #{len(self.y) - 1}")
        at = int(np.searchsorted(self.indices, index))
        if at >= len(self.indices) or self.indices[at] != index:
            raise ValueError(f"image #{index} is a {int(self.y[index])}, not shown while only "
                             f"class {self.label} is")
        return divmod(at, self.page_size)

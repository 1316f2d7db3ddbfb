"""The one error type every dataset reader raises."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset file or folder is missing, unreadable, truncated, inconsistent or unsafe.

    The message always names the file and says what is wrong with it.
    """

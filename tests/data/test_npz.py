"""save_npz: readable by np.load without pickles, byte-reproducible, atomic."""

import os
import stat

import numpy as np
import pytest

from cnnlab.data.npz import npz_bytes, save_npz


def test_round_trip_and_reproducible_bytes(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.int64).reshape(2, 3), "names": np.array(["x", "yz"])}
    path = save_npz(tmp_path / "d" / "f.npz", arrays)
    with np.load(path, allow_pickle=False) as z:
        np.testing.assert_array_equal(z["a"], arrays["a"])
        assert list(z["names"]) == ["x", "yz"]
    assert npz_bytes(arrays) == path.read_bytes()  # same bytes whenever written
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    os.chmod(path, 0o600)
    save_npz(path, arrays)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # existing permissions kept


def test_uncompressed_and_object_arrays(tmp_path):
    assert len(npz_bytes({"z": np.zeros(10_000)}, compress=False)) > len(npz_bytes({"z": np.zeros(10_000)}))
    with pytest.raises(ValueError, match="'bad': object arrays"):
        save_npz(tmp_path / "o.npz", {"bad": np.array([None, 1], dtype=object)})
    assert list(tmp_path.iterdir()) == []

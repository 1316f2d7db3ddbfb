"""Kernel recovery: a fresh Conv2D learns a target's kernels from its outputs."""

import numpy as np
import pytest

from cnnlab.lab.recovery import RecoveryReport, load_target_kernels, random_target_kernels, recover_kernels
from cnnlab.resources import resource_path


@pytest.fixture(scope="module")
def cifar_images():
    if not resource_path("cifar10_sample.npz").exists():
        pytest.skip("bundled CIFAR-10 sample is absent")
    from cnnlab.data import load_cifar10

    (x, _), _ = load_cifar10("sample")
    return x  # uint8 (N, 3, 32, 32)


def test_recovers_20_filters_5x5x3_on_the_cifar_sample(cifar_images):
    target = random_target_kernels(20, 3, 5, seed=7)
    assert target.min() >= -1 and target.max() <= 1 and target.shape == (20, 3, 5, 5)
    reports = []
    result = recover_kernels(cifar_images, target, max_steps=600, tolerance=1e-2,
                             on_step=reports.append, weights_every=50)
    assert result.errors[0] > 0.5  # the learner did not start at the target
    assert result.converged and result.max_abs_error < 1e-2
    assert np.abs(result.weights - target).max() == pytest.approx(result.max_abs_error)
    assert result.steps <= 600 and len(result.losses) == result.steps + 1
    assert result.losses[-1] < 1e-3 * result.losses[0]
    # one report per step, weights on every 50th and on the last
    assert [r.step for r in reports] == list(range(result.steps + 1))
    assert all(isinstance(r, RecoveryReport) for r in reports)
    with_weights = [r.step for r in reports if r.weights is not None]
    assert with_weights[:2] == [0, 50] and with_weights[-1] == result.steps
    np.testing.assert_array_equal(reports[-1].weights, result.weights)
    assert reports[-1].weights is not result.weights  # copies, not the live array


def test_first_order_optimizers_lower_the_loss(cifar_images):
    target = random_target_kernels(4, 3, 3, seed=1)
    for name in ("adam", "sgd"):
        result = recover_kernels(cifar_images[:4], target, optimizer=name, max_steps=30,
                                 tolerance=None)
        assert result.steps == 30 and not result.converged
        assert result.losses[-1] < 0.5 * result.losses[0], name


def test_should_stop_is_honoured_every_step():
    images = np.random.default_rng(0).integers(0, 256, (3, 3, 12, 12), dtype=np.uint8)
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) >= 4

    result = recover_kernels(images, random_target_kernels(2, 3, 3), max_steps=100,
                             should_stop=should_stop)
    assert result.stopped and not result.converged and result.steps == 3


def test_float_images_and_random_noise_recover_quickly():
    # White noise is perfectly conditioned: recovery is fast on it, whatever the optimizer.
    x = np.random.default_rng(2).random((4, 2, 10, 10))
    target = random_target_kernels(3, 2, 3, seed=3)
    result = recover_kernels(x, target, max_steps=200, tolerance=1e-6)
    assert result.converged and result.steps < 60


def test_bad_targets_and_images_are_refused():
    x = np.zeros((2, 3, 8, 8), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"\(F, 3, kh, kw\)"):
        recover_kernels(x, np.zeros((4, 1, 3, 3)))
    with pytest.raises(ValueError, match="optimizer"):
        recover_kernels(x, np.zeros((4, 3, 3, 3)), optimizer="lbfgs")
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        recover_kernels(np.zeros((3, 8, 8)), np.zeros((4, 3, 3, 3)))
    with pytest.raises(ValueError, match="does not fit"):
        recover_kernels(x, np.zeros((4, 3, 9, 9)))


def test_load_target_kernels(tmp_path):
    good = random_target_kernels(20, 3, 5, seed=0).astype(np.float32)
    np.save(tmp_path / "k.npy", good)
    loaded = load_target_kernels(tmp_path / "k.npy")
    assert loaded.dtype == np.float64 and loaded.shape == (20, 3, 5, 5)
    np.testing.assert_array_equal(loaded, good)

    cases = {
        "objects.npy": (lambda p: np.save(p, np.array([{"a": 1}], dtype=object),
                                          allow_pickle=True), "Python objects"),
        "shape.npy": (lambda p: np.save(p, np.zeros((3, 5, 5))), r"\(filters, channels, kh, kw\)"),
        "channels.npy": (lambda p: np.save(p, np.zeros((4, 1, 5, 5))), "1 input channels"),
        "nan.npy": (lambda p: np.save(p, np.full((1, 3, 2, 2), np.nan)), "NaN"),
        "text.npy": (lambda p: p.write_text("not an array"), "not a .npy file"),
        "truncated.npy": (lambda p: p.write_bytes((tmp_path / "k.npy").read_bytes()[:300]),
                          "truncated|not a readable"),
        "strings.npy": (lambda p: np.save(p, np.array([["a"]])), "numbers"),
        "archive.npy": (lambda p: np.savez(open(p, "wb"), a=np.zeros(3)), ".npz archive"),
    }
    for name, (write, message) in cases.items():
        path = tmp_path / name
        write(path)
        with pytest.raises(ValueError, match=message) as info:
            load_target_kernels(path)
        assert name in str(info.value)
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        load_target_kernels(tmp_path / "missing.npy")
    assert load_target_kernels(tmp_path / "k.npy", in_channels=None).shape == (20, 3, 5, 5)

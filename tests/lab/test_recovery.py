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


def test_the_exercise_setup_padding_2_recovers(cifar_images):
    from cnnlab.lab.recovery import EXERCISE

    assert EXERCISE == {"padding": 2, "batch_size": 20, "max_images": 100}
    target = random_target_kernels(20, 3, 5, seed=3)
    result = recover_kernels(cifar_images, target, max_steps=600, tolerance=1e-2, padding=2,
                             batch_size=20)  # CG: every image, whatever the batch size
    assert result.converged and result.max_abs_error < 1e-2


def test_mini_batches_are_reproducible_and_learn(cifar_images):
    target = random_target_kernels(4, 3, 5, seed=1)
    # the bundled sample has 20 photos: batches of 5 (with 100 photos, the exercise's 20)
    runs = [recover_kernels(cifar_images, target, optimizer="adam", max_steps=40, tolerance=None,
                            padding=2, batch_size=5, seed=5) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].losses, runs[1].losses)
    full = recover_kernels(cifar_images, target, optimizer="adam", max_steps=40, tolerance=None,
                           padding=2, seed=5)
    assert not np.array_equal(runs[0].losses, full.losses)  # other data per step
    assert runs[0].errors[-1] < runs[0].errors[0]


def test_a_mini_batch_loss_is_that_batch_s_mse(cifar_images):
    # one image per batch: step 0's loss must be the MSE on one image exactly
    from cnnlab.engine.layers import Conv2D

    x = cifar_images[:3]
    target = random_target_kernels(2, 3, 3, seed=0)
    result = recover_kernels(x, target, optimizer="sgd", max_steps=0, tolerance=None,
                             batch_size=1, padding=1, seed=0)
    xs = x.astype(np.float64) / 255.0
    c0 = Conv2D(3, 2, 3, padding=1, bias=False, init="zeros", dtype=np.float64)
    c0.set_params({"W": target})
    start = Conv2D(3, 2, 3, padding=1, bias=False, dtype=np.float64,
                   init={"name": "uniform", "a": -1.0, "b": 1.0}, rng=np.random.default_rng([0, 1]))
    per_image = ((start.forward(xs) - c0.forward(xs)) ** 2).mean(axis=(1, 2, 3))  # (3,)
    assert any(result.losses[0] == pytest.approx(v, rel=1e-12) for v in per_image)
    assert not result.losses[0] == pytest.approx(per_image.mean(), rel=1e-6)


def test_normal_init_with_tiny_sigma_starts_near_zero(cifar_images):
    target = random_target_kernels(4, 3, 5, seed=2)
    result = recover_kernels(cifar_images, target, optimizer="adam", max_steps=0, tolerance=None,
                             init_sigma=1e-5)
    assert result.errors[0] == pytest.approx(np.abs(target).max(), abs=1e-4)
    for bad in ({"init_sigma": 0.0}, {"padding": -1}, {"batch_size": 0}):
        with pytest.raises(ValueError, match="kernel recovery"):
            recover_kernels(cifar_images, target, max_steps=0, **bad)

"""Test-set analysis against plain-loop references and the trainer's evaluate()."""

import numpy as np
import pytest

from cnnlab.engine.layers import Dense, Flatten
from cnnlab.engine.model import Sequential
from cnnlab.engine.trainer import evaluate
from cnnlab.lab.analysis import analyze

K = 4


def _problem(n=300, seed=0):
    """A fixed random linear classifier on random 1×3×3 images: it makes mistakes."""
    rng = np.random.default_rng(seed)
    model = Sequential([Flatten(), Dense(9, K, dtype=np.float64)], (1, 3, 3))
    model.set_weights({"1.W": rng.normal(size=(9, K)), "1.b": rng.normal(size=K) * 0.1})
    x = rng.normal(size=(n, 1, 3, 3))
    y = rng.integers(0, K, n)
    y[:5] = 3  # class 3 present; class counts uneven
    return model, x, y


def test_counts_and_scores_match_plain_loops():
    model, x, y = _problem()
    names = ["a", "b", "c", "d"]
    a = analyze(model, x, y, names, batch_size=64)
    pred = [int(np.argmax(model.forward(x[i:i + 1])[0])) for i in range(len(x))]
    cm = np.zeros((K, K), dtype=np.int64)
    for t, p in zip(y, pred):
        cm[t, p] += 1
    np.testing.assert_array_equal(a.confusion, cm)
    np.testing.assert_array_equal(a.y_pred, pred)
    np.testing.assert_array_equal(a.support, np.bincount(y, minlength=K))  # rows sum to class counts
    assert a.confusion.sum() == len(x)
    for k in range(K):
        assert a.per_class[k] == pytest.approx(cm[k, k] / cm[k].sum())
        assert a.recall[k] == pytest.approx(cm[k, k] / cm[k].sum())
        assert a.precision[k] == pytest.approx(cm[k, k] / cm[:, k].sum())
    loss, acc = evaluate(model, x, y)
    assert a.accuracy == pytest.approx(acc)
    assert a.loss == pytest.approx(loss, rel=1e-5)
    np.testing.assert_allclose(a.proba.sum(axis=1), 1.0, rtol=1e-5)
    norm = a.normalized_confusion()
    np.testing.assert_allclose(norm.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(norm), a.per_class)
    best, worst = a.best_and_worst()
    assert a.per_class[best] == np.nanmax(a.per_class) and a.per_class[worst] == np.nanmin(a.per_class)
    assert a.class_names == tuple(names)


def test_per_class_loss_matches_a_plain_loop():
    model, x, y = _problem()
    a = analyze(model, x, y, "abcd")
    for k in range(K):
        members = [i for i in range(len(x)) if y[i] == k]
        logits = model.forward(x[members]).astype(np.float64)  # (M, K)
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        assert a.per_class_loss()[k] == pytest.approx(-logp[np.arange(len(members)), k].mean(), rel=1e-5)
    # the classes' losses average (weighted by their sizes) to the overall loss
    assert np.average(a.per_class_loss(), weights=a.support) == pytest.approx(a.loss, rel=1e-6)
    low, high = a.best_and_worst_loss()
    assert a.per_class_loss()[low] == np.nanmin(a.per_class_loss())
    assert a.per_class_loss()[high] == np.nanmax(a.per_class_loss())
    keep = y != 0
    b = analyze(model, x[keep], y[keep], "abcd")
    assert np.isnan(b.per_class_loss()[0]) and 0 not in b.best_and_worst_loss()


def test_cells_and_mistakes():
    model, x, y = _problem()
    a = analyze(model, x, y, "abcd")
    wrong = a.misclassified()
    assert set(wrong) == set(np.flatnonzero(a.y_true != a.y_pred))
    conf = a.proba[wrong, a.y_pred[wrong]]
    assert np.all(np.diff(conf) <= 0)  # most confident mistakes first
    for t in range(K):
        for p in range(K):
            cell = a.cell(t, p)
            assert len(cell) == a.confusion[t, p]
            assert np.all(a.y_true[cell] == t) and np.all(a.y_pred[cell] == p)


def test_missing_class_is_nan_and_best_worst_skip_it():
    model, x, y = _problem()
    keep = y != 2
    a = analyze(model, x[keep], y[keep], "abcd")
    assert np.isnan(a.per_class[2]) and np.all(np.isnan(a.normalized_confusion()[2]))
    assert 2 not in a.best_and_worst()


def test_progress_and_stop():
    model, x, y = _problem(n=100)
    seen = []
    analyze(model, x, y, "abcd", batch_size=30, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(30, 100), (60, 100), (90, 100), (100, 100)]
    calls = []
    stopped = analyze(model, x, y, "abcd", batch_size=30,
                      progress=lambda d, t: calls.append(d), should_stop=lambda: len(calls) >= 2)
    assert stopped is None and calls == [30, 60]


def test_bad_inputs_are_named():
    model, x, y = _problem(n=20)
    with pytest.raises(ValueError, match="outputs"):
        analyze(model, x, y, "abc")
    with pytest.raises(ValueError, match="labels"):
        analyze(model, x, y + 4, "abcd")
    with pytest.raises(ValueError, match="empty"):
        analyze(model, x[:0], y[:0], "abcd")

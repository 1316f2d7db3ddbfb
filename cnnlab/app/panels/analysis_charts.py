"""Experiments → Analysis, the two charts: the confusion matrix and the per-class bars of
an :class:`~cnnlab.lab.analysis.Analysis` (render only)."""

from __future__ import annotations

import math

import numpy as np

from cnnlab.app.panels.experiment_widgets import BarChart, LabelledHeatmap, percent
from cnnlab.app.panels.mistakes_gallery import GOOD_COLOR, short_name
from cnnlab.app.widgets import ERROR_COLOR, TRAIN_COLOR
from cnnlab.lab.analysis import Analysis


def show_confusion(heatmap: LabelledHeatmap, a: Analysis, normalized: bool) -> None:
    """Counts, or with ``normalized`` the fraction of each true class (rows)."""
    names = a.class_names
    if normalized:
        values = a.normalized_confusion()
        texts = [[("" if np.isnan(v) else f"{v:.2f}") for v in row] for row in values]
        levels = (0.0, 1.0)
        title = "confusion matrix (fraction of each true class)"
    else:
        values = a.confusion.astype(np.float64)
        texts = [[str(int(v)) for v in row] for row in a.confusion]
        levels = (0.0, max(1.0, float(values.max())))
        title = "confusion matrix (test images)"
    heatmap.set_title(title)
    heatmap.set_data(values, names, [short_name(n) for n in names], texts, levels, gamma=0.4)


def show_per_class(chart: BarChart, a: Analysis, by_loss: bool) -> None:
    """Bars of per-class accuracy or mean loss; the best class green, the worst red."""
    best, worst = a.best_and_worst_loss() if by_loss else a.best_and_worst()
    colors = [TRAIN_COLOR] * a.n_classes
    colors[worst] = ERROR_COLOR
    colors[best] = GOOD_COLOR
    labels = [short_name(n) for n in a.class_names]
    if by_loss:
        values = a.per_class_loss()
        chart.set_bars(values, labels, colors,
                       y_range=(0, max(1e-3, float(np.nanmax(values)) * 1.1)))
        chart.plot.setLabel("left", "mean loss (nats)")
        shown = [f"{values[k]:.3f}" for k in (best, worst)]
        what = "mean loss per class · lowest"
    else:
        # The axis starts 5–15 points below the worst class, so 95 % and 99 % look different.
        low = max(0.0, 10 * math.floor((100 * a.per_class[worst] - 5) / 10))
        chart.set_bars(100 * a.per_class, labels, colors, y_range=(low, 100))
        chart.plot.setLabel("left", "accuracy (%)")
        shown = [percent(a.per_class[k]) for k in (best, worst)]
        what = "per-class accuracy · best"
    worst_word = "highest" if by_loss else "worst"
    chart.set_title(
        f"{what} <b style='color:{GOOD_COLOR.name()}'>{a.class_names[best]}</b> ({shown[0]}), "
        f"{worst_word} <b style='color:{ERROR_COLOR.name()}'>{a.class_names[worst]}</b> "
        f"({shown[1]})")

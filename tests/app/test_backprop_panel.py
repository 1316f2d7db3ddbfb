"""The Backprop tab: graph, gradients next to central differences, error messages."""

import math

import pytest
from PyQt6.QtCore import QSettings, Qt

from cnnlab.app.panels.backprop_panel import DEFAULT_EXPRESSION, BackpropPanel, NodeBox
from cnnlab.app.session import Session
from cnnlab.autograd import Value, graph, parse


@pytest.fixture
def panel(qtbot):
    p = BackpropPanel(Session())
    qtbot.addWidget(p)
    p.resize(1000, 700)
    p.show()
    return p


def _boxes(panel):
    return [i for i in panel.scene.items() if isinstance(i, NodeBox)]


def _table(panel):
    return [[panel.table.item(r, c).text() for c in range(1, 5)] for r in range(3)]


def test_default_expression_gradients_match_autograd(panel):
    assert panel.edit.text() == DEFAULT_EXPRESSION
    leaves = {k: Value(v, label=k) for k, v in {"x": 2.0, "y": 4.0, "z": 1.0}.items()}
    root = parse(DEFAULT_EXPRESSION)(**leaves)
    root.backward()
    for row, name in zip(panel.rows, "xyz"):
        assert row.variable == name
        assert row.backward == pytest.approx(leaves[name].grad, rel=1e-12, abs=1e-15)
        assert row.ok
    assert panel.rows[1].backward == pytest.approx(0.43720979, rel=1e-6)
    assert panel.rows[2].backward == pytest.approx(-0.30697228, rel=1e-6)
    table = _table(panel)
    assert table[1][0] == "0.4372" and table[2][0] == "-0.307"
    assert all(r[3].startswith("ok") for r in table)
    # The graph has one box per node of the autograd graph, with the root's value.
    nodes, edges = graph(root)
    assert len(_boxes(panel)) == len(panel.nodes) == len(nodes) == 17
    assert panel.edges == edges
    assert panel.result_label.text().strip() == f"f = {root.data:.4g}"


def test_typing_a_new_expression_and_point_updates_live(panel, qtbot):
    panel.edit.clear()
    qtbot.keyClicks(panel.edit, "x*y + z")
    panel.inputs["x"].setValue(3.0)
    qtbot.waitUntil(lambda: len(panel.nodes) == 5, timeout=2000)  # x, y, *, z, +
    assert len(_boxes(panel)) == len(panel.nodes)
    qtbot.waitUntil(lambda: panel.rows[1].backward == 3.0, timeout=2000)
    assert [r.backward for r in panel.rows] == [4.0, 3.0, 1.0]
    assert panel.message.isHidden()


def test_malformed_expression_points_at_the_error_and_keeps_the_graph(panel, qtbot):
    before = len(_boxes(panel))
    panel.edit.setText("sin(x) + * y")
    qtbot.mouseClick(panel.evaluate_button, Qt.MouseButton.LeftButton)
    assert panel.message.isVisible()
    text = panel.message.text()
    first, second = text.split("\n")[:2]
    assert first == "sin(x) + * y"
    assert second.index("^") == 9  # the caret sits under the '*'
    assert "position 10" in text
    assert panel.edit.cursorPosition() == 9
    assert len(_boxes(panel)) == before  # the last good graph stays


def test_undefined_point_is_explained(panel, qtbot):
    panel.edit.setText("log(x - 5)")
    assert panel.evaluate() is False
    assert "undefined" in panel.message.text() and "log of a non-positive" in panel.message.text()
    panel.inputs["x"].setValue(7.0)
    assert panel.evaluate() is True
    assert panel.message.isHidden()
    assert panel.rows[0].backward == pytest.approx(0.5)
    assert panel.rows[0].numeric == pytest.approx(0.5, rel=1e-6)


def test_settings_round_trip(panel, qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    panel.edit.setText("exp(z)")
    panel.inputs["z"].setValue(0.5)
    panel.save_settings(settings)
    other = BackpropPanel(Session())
    qtbot.addWidget(other)
    other.restore_settings(settings)
    assert other.edit.text() == "exp(z)"
    assert other.rows[2].backward == pytest.approx(math.exp(0.5))


def test_big_graph_fits_and_zooms(panel, qtbot):
    panel.edit.setText(" + ".join(f"sin({k}x) * cos(y/{k})" for k in range(1, 13)))
    assert panel.evaluate()
    assert len(_boxes(panel)) == len(panel.nodes) > 80
    panel.view.fit()
    scale = panel.view.transform().m11()
    assert 0.5 <= scale < 1.0  # shrunk to fit (or to 50 % with scroll bars), never tiny
    panel.view.scale(1.15, 1.15)  # what one wheel step does
    assert panel.view.transform().m11() == pytest.approx(scale * 1.15)


def test_undefined_new_expression_does_not_pass_off_the_old_value(panel):
    # f used to keep showing the previous expression's value, and the message claimed the
    # graph showed "the last point where it was defined" although it was another expression.
    panel.edit.setText("2*x + 3*y")
    assert panel.evaluate() and panel.result_label.text().strip() == "f = 16"
    panel.edit.setText("log(x - 5)")
    assert panel.evaluate() is False
    assert panel.result_label.text().strip() == "f undefined"
    assert "last expression that could be evaluated, 2*x + 3*y" in panel.message.text()
    panel.edit.setText("2*x + 3*y")
    assert panel.evaluate()
    panel.inputs["x"].setValue(0.0)
    panel.edit.setText("2*x + 3*y + 1/x")
    assert panel.evaluate() is False
    panel.edit.setText("1/x")
    panel.inputs["x"].setValue(1.0)
    assert panel.evaluate()
    panel.inputs["x"].setValue(0.0)
    assert panel.evaluate() is False
    assert "the last point where it was defined" in panel.message.text()


def test_infinite_value_is_explained(panel):
    panel.edit.setText("1e400 * x")
    assert panel.evaluate()
    assert panel.message.isVisible() and "beyond float64" in panel.message.text()


def test_too_big_graph_starts_at_an_input_box(panel, qtbot):
    # At 50 % the view used to show the bounding rectangle's top-left corner, which for a
    # long sum holds only arrows: no box was visible at all.
    panel.resize(1280, 760)
    panel.edit.setText(" + ".join(f"sin({k}*x)" for k in range(1, 31)))
    assert panel.evaluate()
    qtbot.wait(20)
    panel.view.fit()
    assert panel.view.transform().m11() == pytest.approx(0.5)
    shown = panel.view.mapToScene(panel.view.viewport().rect()).boundingRect()
    focus = panel.view.focus_item
    assert isinstance(focus, NodeBox) and focus.title.text() == "x"
    assert shown.contains(focus.sceneBoundingRect())


@pytest.mark.parametrize("text, reason", [
    ("sin(1e308*10)", "sin of inf"),
    ("x**400 + 10**400", "overflows"),
    ("1/(x-2)", "division by zero"),
    ("(" * 300 + "x" + ")" * 300, "more than 100 levels deep"),
    ("x+" * 600 + "x", "longer than 1000 characters"),
])
def test_numeric_and_size_failures_are_messages_and_the_old_graph_is_marked_stale(panel, text, reason):
    assert panel.evaluate() and not panel.stale and panel.stale_label.isHidden()
    drawn = len(_boxes(panel))
    panel.edit.setText(text)
    assert panel.evaluate() is False  # no exception escapes the slot
    assert reason in panel.message.text()
    assert panel.stale and panel.stale_label.isVisible() and "Stale" in panel.stale_label.text()
    assert not panel.table.isEnabled()
    assert len(_boxes(panel)) == drawn and all(b.opacity() < 1 for b in _boxes(panel))
    panel.edit.setText("x*y")
    assert panel.evaluate() and not panel.stale and panel.table.isEnabled()
    assert all(b.opacity() == 1.0 for b in _boxes(panel))


def test_typing_marks_the_shown_results_stale_until_evaluated(panel, qtbot):
    qtbot.keyClicks(panel.edit, " +")  # the default expression, now unfinished
    assert panel.stale and panel.stale_label.isVisible()
    qtbot.waitUntil(lambda: panel.message.isVisible(), timeout=2000)  # the parse error
    assert panel.stale
    qtbot.keyClicks(panel.edit, " x")
    qtbot.waitUntil(lambda: not panel.stale, timeout=2000)
    assert panel.stale_label.isHidden() and panel.message.isHidden()


def test_a_graph_too_big_to_draw_is_still_computed_quickly(panel):
    import time

    from cnnlab.app.panels.backprop_panel import MAX_DRAWN_NODES

    panel.edit.setText("+".join(["x"] * 400))
    start = time.perf_counter()
    assert panel.evaluate()
    assert time.perf_counter() - start < 1.0  # laying it out took ~9 s
    assert len(panel.nodes) == 400 > MAX_DRAWN_NODES and not _boxes(panel)
    assert panel.rows[0].backward == 400.0 and panel.rows[0].ok
    assert "too many to draw" in " ".join(i.toPlainText() for i in panel.scene.items())


def test_bad_saved_expression_and_point_do_not_stop_the_panel(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.setValue("backprop/expression", "sin(1e308*10)")
    settings.setValue("backprop/x", "1e12")
    settings.setValue("backprop/y", "abc")
    settings.setValue("backprop/z", "nan")
    settings.sync()
    other = BackpropPanel(Session())
    qtbot.addWidget(other)
    other.restore_settings(settings)
    assert other.edit.text() == "sin(1e308*10)"
    assert "sin of inf" in other.message.text()
    assert other.point() == {"x": 2.0, "y": 4.0, "z": 1.0}  # the defaults
    from cnnlab.app.settings import take_notes

    assert [n.split(" =")[0] for n in take_notes(settings)] == [
        "backprop/x", "backprop/y", "backprop/z"]

"""No saved setting can stop the window from coming up.

The keys are enumerated by starting the window once and saving; then every key gets
corrupted values (wrong types, huge and negative numbers, NaN, garbage bytes, Qt blobs,
very long text, stored Python objects) and the window must still start, fall back to
defaults with a status-line note, and write valid settings again when it closes.
Also unit tests of :mod:`cnnlab.app.settings` itself.
"""

import pickle

import pytest
from PyQt6.QtCore import QByteArray, QSettings

from cnnlab.app import settings as stored
from cnnlab.app.main_window import MainWindow
from cnnlab.app.session import Session
from cnnlab.app.startup import load_startup_state

#: Text the user may type freely (checked when used, e.g. a sweep's list of rates), and a
#: key only read when another says so (the custom kernel, when the kernel is "custom").
FREE_TEXT = {"backprop/expression", "experiments/size_fractions", "experiments/sweep_lr",
             "experiments/sweep_b", "kernels/blur/custom"}


def _window(qtbot, path):
    session = Session()
    load_startup_state(session)
    w = MainWindow(session, QSettings(str(path), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    return w


@pytest.fixture(scope="module")
def saved_keys(qapp, tmp_path_factory):
    """Every key the window saves (the window is started once, in its own QSettings)."""
    path = tmp_path_factory.mktemp("enumerate") / "cnnlab.ini"
    session = Session()
    load_startup_state(session)
    w = MainWindow(session, QSettings(str(path), QSettings.Format.IniFormat))
    w.save_settings()
    keys = sorted(w.settings.allKeys())
    w.close()
    w.deleteLater()
    assert len(keys) > 40 and "window/geometry" in keys and "train/batch_size" in keys
    return keys


def _write_ini(path, values: dict[str, str]) -> None:
    """A hand-edited file: ``values`` are written raw (Qt's INI syntax, not escaped)."""
    sections: dict[str, list[str]] = {}
    for key, raw in values.items():
        group, _, name = key.partition("/")
        sections.setdefault(group, []).append(f"{name.replace('/', chr(92))}={raw}")
    path.write_text("\n".join(f"[{g}]\n" + "\n".join(lines) + "\n" for g, lines in sections.items()),
                    encoding="utf-8")


def _python_object_blob(tmp_path) -> str:
    """The raw INI text PyQt writes for a Python object: a pickle that, if it were ever
    loaded, would create ``tmp_path/ran``."""
    import pathlib

    class Payload:
        def __reduce__(self):
            return (pathlib.Path.mkdir, (tmp_path / "ran",))

    scratch = QSettings(str(tmp_path / "scratch.ini"), QSettings.Format.IniFormat)
    scratch.setValue("g/k", Payload())
    scratch.sync()
    line = next(ln for ln in (tmp_path / "scratch.ini").read_text().splitlines() if ln.startswith("k="))
    assert "PyQt_PyObject" in line and pickle.dumps(0)  # a real pickle blob
    return line[2:]


CORRUPTIONS = {
    "wrong types": lambda i: ["abc", "true?", "[1, 2", "\\x01\\x02", "{}", "None"][i % 6],
    "numbers out of range": lambda i: ["1e12", "-1e12", "-5", "nan", "inf", "1e308", "3.5"][i % 7],
    "Qt blobs": lambda i: ["@ByteArray(\\xff\\0garbage)", "@Variant(\\0\\0\\0\\x7f\\xff\\xff)",
                           "@Rect(1 2 3)", "@ByteArray()", "\"1, 2, 3\"", "1, 2, 3"][i % 6],
    "very long": lambda i: "9" * 200_000 if i % 2 else "[" * 50_000,
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_the_window_comes_up_whatever_the_saved_values(qtbot, tmp_path, saved_keys, kind):
    path = tmp_path / "cnnlab.ini"
    _write_ini(path, {key: CORRUPTIONS[kind](i) for i, key in enumerate(saved_keys)})
    w = _window(qtbot, path)
    w.show()
    qtbot.waitUntil(lambda: "could not be used" in w.statusBar().currentMessage(), timeout=3000)
    noted = {note.split(" = ")[0].split(":")[0] for note in w.settings_notes}
    assert noted <= set(saved_keys)
    if kind == "wrong types":  # every typed key was checked and fell back
        assert set(saved_keys) - FREE_TEXT <= noted, set(saved_keys) - FREE_TEXT - noted
    assert len(noted) >= len(saved_keys) // 3
    w.close()
    if kind in ("wrong types", "Qt blobs"):  # closing wrote valid values again
        again = _window(qtbot, path)
        assert again.settings_notes == [], again.settings_notes


def test_stored_python_objects_are_never_loaded(qtbot, tmp_path, saved_keys):
    blob = _python_object_blob(tmp_path)
    path = tmp_path / "cnnlab.ini"
    _write_ini(path, {key: (blob if i % 2 else "abc") for i, key in enumerate(saved_keys)})
    w = _window(qtbot, path)
    assert not (tmp_path / "ran").exists()  # the pickle never ran
    assert any("never loaded" in note for note in w.settings_notes)
    assert "PyQt_PyObject" not in path.read_text()


# --------------------------------------------------------------------------- the helper

@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)


@pytest.mark.parametrize("raw, kind, bounds, expected", [
    ("64", "int", (1, 4096), 64), ("1e3", "int", (1, 4096), 1000), ("3.0", "int", (1, 9), 3),
    ("3.5", "int", (1, 9), None), ("1e12", "int", (1, 4096), None), ("-5", "int", (0, 9), None),
    ("nan", "float", (0, 1), None), ("inf", "float", (None, None), None),
    ("0.25", "float", (0, 1), 0.25), ("abc", "float", (None, None), None),
    ("true", "bool", (None, None), True), ("0", "bool", (None, None), False),
    ("maybe", "bool", (None, None), None),
])
def test_read_checks_type_and_range(settings, raw, kind, bounds, expected):
    settings.setValue("k", raw)
    default = object()
    value = stored.read(settings, "k", default, kind, lo=bounds[0], hi=bounds[1])
    notes = stored.take_notes(settings)
    if expected is None:
        assert value is default and len(notes) == 1 and notes[0].startswith("k = ")
    else:
        assert value == expected and type(value) is type(expected) and notes == []


def test_read_text_choices_bytes_json_and_missing(settings):
    settings.setValue("s", "sgd")
    settings.setValue("long", "x" * 5000)
    settings.setValue("b", QByteArray(b"\x01\x02"))
    settings.setValue("j", "[[1, 2], [3, 4]]")
    assert stored.read(settings, "s", "adam", "str", choices=("sgd", "adam")) == "sgd"
    assert stored.read(settings, "s", "adam", "str", choices=("adam",)) == "adam"
    assert stored.read(settings, "long", "", "str") == ""
    assert stored.read(settings, "b", None, "bytes") == QByteArray(b"\x01\x02")
    assert stored.read(settings, "b", None, "bytes", max_len=1) is None
    assert stored.read(settings, "s", None, "bytes") is None
    assert stored.read(settings, "j", None, "json") == [[1, 2], [3, 4]]
    assert stored.read(settings, "j", None, "json", check=lambda v: v[9]) is None  # IndexError
    assert stored.read(settings, "missing", 7, "int") == 7
    notes = stored.take_notes(settings)
    assert [n.split(" = ")[0] for n in notes] == ["s", "long", "b", "s", "j"]
    assert stored.take_notes(settings) == []
    assert stored.summary(["a = 1: bad", "b: bad"]).startswith("2 saved settings could not be used")
    assert stored.summary([f"k{i} = x" for i in range(5)]).endswith("k0, k1, k2 and 2 more")


def test_reset_clears_everything(settings):
    settings.setValue("train/batch_size", "1e12")
    where = stored.reset(settings)
    assert settings.allKeys() == [] and where == settings.fileName()


@pytest.mark.parametrize("values, reason", [
    ([[0.1] * 32] * 32, "larger than 31×31"),  # the size box's maximum
    ([[0.0] * 200] * 200, "characters is more than"),
    ([[1, 2], [3]], "rectangular"),
    ("[" * 5000 + "]" * 5000, "recursion"),
])
def test_an_unusable_custom_kernel_keeps_the_default(qtbot, settings, values, reason):
    import json

    from cnnlab.app.panels.kernels_panel import KernelsPanel

    panel = KernelsPanel(Session())
    qtbot.addWidget(panel)
    default = panel.blur_view.kernel.copy()
    settings.setValue("kernels/blur/kernel", "custom")
    settings.setValue("kernels/blur/custom", values if isinstance(values, str) else json.dumps(values))
    panel.restore_settings(settings)
    [note] = [n for n in stored.take_notes(settings) if n.startswith("kernels/blur/custom")]
    assert reason in note.lower() or reason in note
    assert panel.blur_view.kernel.shape == default.shape



def test_the_largest_custom_kernel_round_trips(qtbot, settings):
    import numpy as np

    from cnnlab.app.panels.kernel_designer import MAX_KERNEL
    from cnnlab.app.panels.kernels_panel import KernelsPanel

    kernel = np.random.default_rng(0).normal(size=(MAX_KERNEL, MAX_KERNEL)) / 7  # long reprs
    import json

    settings.setValue("kernels/blur/kernel", "custom")
    settings.setValue("kernels/blur/custom", json.dumps(kernel.tolist()))
    panel = KernelsPanel(Session())
    qtbot.addWidget(panel)
    panel.restore_settings(settings)
    assert not [n for n in stored.take_notes(settings) if n.startswith("kernels/blur")]
    np.testing.assert_array_equal(panel.blur_view.kernel, kernel)


def test_a_panel_whose_restore_fails_does_not_stop_the_window(qtbot, tmp_path, monkeypatch):
    from cnnlab.app.panels.draw_panel import DrawPanel

    def broken(self, settings):
        raise KeyError("a bug")

    monkeypatch.setattr(DrawPanel, "restore_settings", broken)
    w = _window(qtbot, tmp_path / "cnnlab.ini")
    assert w.settings_notes == ["Draw tab: its settings could not be restored (KeyError: 'a bug')"]
    assert "Draw tab" in stored.summary(w.settings_notes)

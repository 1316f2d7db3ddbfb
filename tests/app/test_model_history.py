"""File ▸ Recent models, Undo model change, Restore the shipped digit model."""

from PyQt6.QtCore import QSettings

from cnnlab.app.model_history import RECENT_KEY, ModelHistory
from cnnlab.app.startup import DEFAULT_MODEL, default_model_name
from cnnlab.engine.model import load
from cnnlab.lab.presets import build_preset
from cnnlab.resources import resource_path
from tests.app.conftest import SMALL


def shipped():
    model = load(resource_path(*DEFAULT_MODEL))
    return model, default_model_name(model), resource_path(*DEFAULT_MODEL)


def test_a_preset_never_loses_the_trained_model(qtbot, session, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    history = ModelHistory(session, settings)
    model, name, path = shipped()
    session.set_model(model, name, path)
    said = []
    session.status_message.connect(said.append)
    session.set_model(build_preset(SMALL), f"{SMALL} (untrained)")  # a preset is picked
    qtbot.waitUntil(lambda: any("Undo model change" in m for m in said), timeout=2000)
    assert said[-1].startswith(f"replaced “{name}”")
    session.set_model(build_preset(SMALL), f"{SMALL} (untrained)")  # …and edited
    assert history.undo_action.isEnabled() and "default digits" in history.undo_action.text()
    history.undo_action.trigger()
    assert session.model is model and session.model_name == name and session.model_path == path
    assert not history.undo_action.isEnabled()
    # the shipped model is always one menu entry away, too
    session.set_model(build_preset(SMALL), f"{SMALL} (untrained)")
    assert history.restore_shipped() and session.model_name.startswith("default digits")
    assert session.model_path == resource_path(*DEFAULT_MODEL)


def test_recent_models_follow_open_and_save(qtbot, session, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    history = ModelHistory(session, settings)
    assert [a.text() for a in history.recent_menu.actions()] == [
        "(models you open or save appear here)"]
    session.save_model(tmp_path / "first.npz")
    session.save_model(tmp_path / "second.npz")
    assert [a.text() for a in history.recent_menu.actions()] == ["second.npz", "first.npz"]
    assert history.open_recent(str(tmp_path / "first.npz"))
    assert session.model_path == tmp_path / "first.npz"
    assert [a.text() for a in history.recent_menu.actions()] == ["first.npz", "second.npz"]
    other = ModelHistory(session, settings)  # a later start of the app remembers them
    assert other.recent() == [str(tmp_path / "first.npz"), str(tmp_path / "second.npz")]
    assert not history.open_recent(str(tmp_path / "gone.npz"))  # said in a dialog, not raised


def test_a_damaged_recent_list_is_ignored(qtbot, session, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.setValue(RECENT_KEY, '{"not": "a list"}')
    history = ModelHistory(session, settings)
    assert history.recent() == []

"""Data ▸ Browse…: a grid of the loaded images with labels, class filter, jump to index."""

import numpy as np
from PyQt6.QtCore import Qt

from cnnlab.app.data_actions import DatasetActions
from cnnlab.app.panels.dataset_browser import PAGE_SIZE
from cnnlab.app.panels.experiment_widgets import image_to_qimage
from cnnlab.app.session import load_dataset


def test_browse_filter_jump_and_follow_the_dataset(qtbot, session):
    actions = DatasetActions(session)
    browse = [a for a in actions.menu_actions() if a is not None and a.text() == "Browse…"]
    assert browse and browse[0].shortcut().toString() == "Ctrl+B"
    browse[0].trigger()
    b = actions.browser
    qtbot.addWidget(b)
    ds = session.dataset
    assert b.shown_indices() == list(range(PAGE_SIZE))
    first = b.grid.item(0)
    assert first.text() == f"#0\n{ds.class_names[ds.y_train[0]]}"
    icon = first.icon().pixmap(56, 56).toImage()
    assert icon.size() == image_to_qimage(ds.x_train[0], 2).size()
    assert "page 1 of" in b.page_label.text() and f"of {len(ds.y_train):,}" in b.page_label.text()

    b.class_filter.setCurrentIndex(b.class_filter.findData(7))  # only the 7s
    shown = b.shown_indices()
    assert shown and all(ds.y_train[i] == 7 for i in shown)
    assert len(shown) == min(PAGE_SIZE, int((ds.y_train == 7).sum()))
    qtbot.mouseClick(b.next_button, Qt.MouseButton.LeftButton)
    assert b.page == 1 and all(ds.y_train[i] == 7 for i in b.shown_indices())

    sevens = np.flatnonzero(ds.y_train == 7)
    target = int(sevens[PAGE_SIZE + 3])  # on the second page of 7s
    assert b.show_index(target) and b.page == 1
    assert b.grid.currentItem().data(Qt.ItemDataRole.UserRole) == target
    other = int(np.flatnonzero(ds.y_train != 7)[0])
    assert not b.show_index(other) and "not shown while only class 7" in b.message.text()

    b.class_filter.setCurrentIndex(0)
    b.split.setCurrentIndex(1)  # the test images
    assert len(b.shown_indices()) == min(PAGE_SIZE, len(ds.y_test))
    b.jump.setValue(len(ds.y_test) - 1)
    qtbot.mouseClick(b.jump_button, Qt.MouseButton.LeftButton)
    assert b.grid.currentItem().data(Qt.ItemDataRole.UserRole) == len(ds.y_test) - 1

    cifar = load_dataset("cifar10", "sample")
    session.set_dataset(cifar)  # the browser follows
    assert b.class_filter.itemText(1) == "0: airplane" and "CIFAR-10" in b.windowTitle()
    assert not b.note.isVisibleTo(b) and b.grid.count() == min(PAGE_SIZE, len(cifar.y_test))

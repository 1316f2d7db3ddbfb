"""A grey sentence over an empty view saying what will appear there and how to get it
("Run the sweep: one row per setting appears here"), so an empty plot or table never looks
broken. It sits over the view's viewport, ignores the mouse, and follows resizes."""

from __future__ import annotations

from PyQt6.QtCore import QEvent, QObject, Qt
from PyQt6.QtWidgets import QAbstractScrollArea, QLabel, QWidget

NOTE_STYLE = "color: #777; background: rgba(255, 255, 255, 225); font-size: 13px; padding: 12px;"


class EmptyNote(QLabel):
    """``EmptyNote(view, text)``; ``set_empty(True/False)`` shows or hides it. ``view`` is
    any widget; for a table or a pyqtgraph plot the note covers its viewport."""

    def __init__(self, view: QWidget, text: str):
        host = view.viewport() if isinstance(view, QAbstractScrollArea) else view
        super().__init__(text, host)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setStyleSheet(NOTE_STYLE)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._host = host
        host.installEventFilter(self)
        self._fit()
        self.show()

    def set_empty(self, empty: bool, text: str | None = None) -> None:
        if text is not None:
            self.setText(text)
        self.setVisible(empty)
        if empty:
            self._fit()
            self.raise_()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._host and event.type() == QEvent.Type.Resize:
            self._fit()
        return False

    def _fit(self) -> None:
        rect = self._host.rect()
        # a band across the middle: the axes and headers around it stay readable
        self.setGeometry(rect.x(), rect.y() + rect.height() // 3, rect.width(), rect.height() // 3)

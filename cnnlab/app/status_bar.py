"""The main window's status bar: labels that give way to the message on the left."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QStatusBar, QWidget


class StatusBar(QStatusBar):
    """The window's status bar: each capped label takes at most ``share`` of the bar's
    width (and never more than its own cap), so the message shown on the left keeps room
    at any window size; a message longer than that room is shortened in the middle."""

    def __init__(self, share: float = 0.2, parent: QWidget | None = None):
        super().__init__(parent)
        self.share = share
        self._caps: list[tuple[QWidget, int]] = []
        self._permanent: list[QWidget] = []

    def cap(self, widget: QWidget, most: int) -> None:
        """Let ``widget`` take at most ``most`` pixels, and at most ``share`` of the bar."""
        self._caps.append((widget, most))
        widget.setMaximumWidth(most)

    def addPermanentWidget(self, widget: QWidget, stretch: int = 0) -> None:
        self._permanent.append(widget)
        super().addPermanentWidget(widget, stretch)

    def resizeEvent(self, event) -> None:
        for widget, most in self._caps:
            widget.setMaximumWidth(min(most, max(80, int(self.width() * self.share))))
        super().resizeEvent(event)

    def show_message(self, text: str, timeout_ms: int) -> None:
        """``showMessage``, shortened in the middle to the room the permanent widgets leave."""
        used = sum(w.width() + 8 for w in self._permanent if w.isVisible())
        room = max(120, self.width() - used - 24)
        self.showMessage(self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, room),
                         timeout_ms)

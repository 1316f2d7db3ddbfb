"""Render every tab of the real main window to ``docs/screenshots/window_*.png``.

    QT_QPA_PLATFORM=offscreen python tools/take_screenshots.py      # or under xvfb-run

It trains the small CNN preset for two epochs on 2,000 sample digits (so the Train tab's
plots show a real run), draws a "3" on the canvas with strokes, evaluates the shipped
digit model for the Experiments tab, and grabs each tab at 1440×900 (``window_<tab>.png``,
shown in the README) and at 1024×700 (``window_<tab>_1024x700.png``).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PyQt6.QtCore import QPointF, QSettings  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from cnnlab.app.main_window import MainWindow  # noqa: E402
from cnnlab.app.session import Session  # noqa: E402
from cnnlab.app.startup import load_startup_state  # noqa: E402
from cnnlab.lab.presets import DEFAULT_PRESET, build_preset  # noqa: E402
from cnnlab.lab.training import TrainingConfig  # noqa: E402

NAMES = ["model", "train", "draw", "step_by_step", "kernels", "experiments", "backprop"]
LARGE, SMALL = (1440, 900), (1024, 700)


def wait_until(app: QApplication, done, timeout_s: float = 300.0) -> None:
    import time

    end = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > end:
            raise TimeoutError("screenshot step did not finish in time")
        app.processEvents()
        time.sleep(0.01)


def draw_three(canvas) -> None:
    """Two arcs, as a person draws a 3, in widget coordinates of the canvas's square."""
    sq = canvas._square()  # the drawing area inside the widget
    for cy in (0.33, 0.66):
        points = [QPointF(sq.x() + sq.width() * (0.5 + 0.2 * math.cos(a)),
                          sq.y() + sq.height() * (cy + 0.16 * math.sin(a)))
                  for a in [math.radians(d) for d in range(-150, 100, 10)]]
        canvas.begin_stroke(points[0])
        for p in points[1:]:
            canvas.extend_stroke(p)
        canvas.end_stroke()


def open_window() -> tuple[QApplication, Session, MainWindow]:
    """The real main window with the shipped model and sample, and throwaway settings."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    session = Session()
    problems = load_startup_state(session)
    if problems:
        raise SystemExit("\n".join(problems))
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "shots.ini"), QSettings.Format.IniFormat)
    return app, session, MainWindow(session, settings)


def output_folder(doc: str, argv: list[str] | None = None) -> Path:
    """The folder a screenshot script writes to (``--out``, default ``docs/screenshots``),
    made if missing; ``doc``'s first line is the script's ``--help``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    return out


def save_window(app: QApplication, window, path: Path, size: tuple[int, int] | None = None) -> None:
    """Resize ``window`` to ``size`` (when given), let it lay out and paint, save a PNG."""
    if size is not None:
        window.resize(*size)
    for _ in range(30):
        app.processEvents()
    window.grab().save(str(path))
    print("wrote", path)


def main(argv: list[str] | None = None) -> int:
    out = output_folder(__doc__, argv)
    app, session, window = open_window()
    default_model, default_name = session.model, session.model_name
    window.resize(*LARGE)
    window.show()

    def grab(index: int) -> None:
        window.tabs.setCurrentIndex(index)
        for size, suffix in ((SMALL, "_1024x700"), (LARGE, "")):
            save_window(app, window, out / f"window_{NAMES[index]}{suffix}.png", size)

    # Train: a real short run of the small CNN.
    session.set_model(build_preset(DEFAULT_PRESET), f"{DEFAULT_PRESET} (untrained)")
    finished = []
    session.training_finished.connect(finished.append)
    window.tabs.setCurrentIndex(1)
    session.start_training(TrainingConfig(epochs=2, batch_size=32, lr=1e-3, subset=2000))
    wait_until(app, lambda: finished)
    grab(0)
    grab(1)

    # Everything else with the shipped digit model.
    session.set_model(default_model, default_name)
    window.tabs.setCurrentIndex(2)
    app.processEvents()  # lay the canvas out before drawing in its coordinates
    draw_three(window.draw_panel.canvas)
    window.draw_panel.refresh()
    grab(2)
    step = window.step_panel  # the drawn "3", the first conv, half of its first channel
    step.source.source.setCurrentIndex(0)
    window.tabs.setCurrentIndex(3)
    wait_until(app, lambda: step.walk is not None and not step.busy)
    step.jump_to(step.problem.out_hw[0] // 2, step.problem.out_hw[1] // 2)
    wait_until(app, lambda: not step.busy)
    grab(3)
    grab(4)
    analysis = window.experiments_panel.analysis
    window.tabs.setCurrentIndex(5)
    app.processEvents()
    analysis.recompute()
    wait_until(app, lambda: not analysis.jobs.running)
    grab(5)
    grab(6)
    session.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Screenshots of the Draw tab's explain/fool views and the Train tab's Diagnostics view.

    QT_QPA_PLATFORM=offscreen python tools/screenshot_explain.py

Builds the real main window with the shipped digit model, draws a "3" (as
``take_screenshots.py`` does), grabs the Draw tab with the "Why?" overlays and with
"Fool it"; then trains a deliberately deep sigmoid net for one epoch so the Diagnostics
view shows a vanishing-gradient warning, runs the learning-rate finder, and grabs the
Train tab's Diagnostics view. Each at 1440×900 and 1024×700, into docs/screenshots/.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cnnlab.lab.presets import DEFAULT_PRESET, build, build_preset  # noqa: E402
from cnnlab.lab.training import TrainingConfig  # noqa: E402
from tools.take_screenshots import draw_three, open_window, output_folder, save_window, wait_until  # noqa: E402

SIZES = {"": (1440, 900), "_1024": (1024, 700)}
SIGMOID_NET = [{"type": "Flatten"}] + [
    spec for _ in range(5) for spec in ({"type": "Dense", "out_features": 64}, {"type": "Sigmoid"})
] + [{"type": "Dense", "out_features": 10}]


def main(argv: list[str] | None = None) -> int:
    out = output_folder(__doc__, argv)
    app, session, window = open_window()
    window.show()

    def grab(name: str) -> None:
        for suffix, size in SIZES.items():
            save_window(app, window, out / f"{name}{suffix}.png", size)

    draw = window.draw_panel
    window.tabs.setCurrentWidget(draw)
    window.resize(*SIZES[""])
    app.processEvents()
    draw_three(draw.canvas)
    draw.refresh()
    draw.lower_tabs.setCurrentWidget(draw.explain)
    wait_until(app, lambda: draw.explain.result is not None and not draw.explain._running)
    grab("draw_explain")
    fool = draw.fool
    draw.lower_tabs.setCurrentWidget(fool)
    fool.method.setCurrentIndex(1)
    fool.eps_slider.setValue(30)
    wait_until(app, lambda: "0.150" in fool.result_label.toolTip() and not fool._running)
    grab("draw_fool")

    train = window.train_panel
    window.tabs.setCurrentWidget(train)
    session.set_model(build(SIGMOID_NET, (1, 28, 28)), "6-layer sigmoid MLP")
    finished = []
    session.training_finished.connect(finished.append)
    train.views.setCurrentWidget(train.diagnostics)
    session.start_training(TrainingConfig(epochs=2, batch_size=32, lr=0.05, optimizer="sgd",
                                          subset=2000))
    wait_until(app, lambda: finished)
    grab("train_diagnostics")
    session.set_model(build_preset(DEFAULT_PRESET), f"{DEFAULT_PRESET} (untrained)")
    finder = train.lr_finder
    train.views.setCurrentWidget(finder)
    finder.start()
    wait_until(app, lambda: not finder.running)
    grab("train_lr_finder")
    session.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Screenshots of the Step by step tab: forward, backward and one SGD step.

    QT_QPA_PLATFORM=offscreen python tools/screenshot_step_by_step.py

Builds the real main window with the shipped digit model, draws a "3" on the Draw tab (as
``take_screenshots.py`` does), then on the Step by step tab: the first conv layer halfway
through channel 0 (forward), the backward pass at the cell with the largest |dZ| with the
"loops = engine" check, and the SGD step. Each at 1440×900 and 1024×700, into
docs/screenshots/step_by_step*.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import numpy as np  # noqa: E402

from cnnlab.app.panels.step_panel import BACKWARD, FORWARD, SGD_PAGE  # noqa: E402
from tools.take_screenshots import draw_three, open_window, output_folder, save_window, wait_until  # noqa: E402

SIZES = {"_1440": (1440, 900), "_1024": (1024, 700)}


def main(argv: list[str] | None = None) -> int:
    out = output_folder(__doc__, argv)
    app, session, window = open_window()
    window.show()
    window.resize(*SIZES["_1440"])
    window.tabs.setCurrentWidget(window.draw_panel)
    app.processEvents()
    draw_three(window.draw_panel.canvas)
    window.draw_panel.refresh()
    step = window.step_panel
    window.tabs.setCurrentWidget(step)
    wait_until(app, lambda: step.walk is not None and not step.busy)

    def grab(name: str, page: int, cell=None) -> None:
        for suffix, size in SIZES.items():
            window.resize(*size)
            step.pages.setCurrentIndex(page)
            if page == SGD_PAGE:
                wait_until(app, lambda: step.sgd_report is not None and not step.busy)
            else:
                step.jump_to(*cell)
                wait_until(app, lambda: not step.busy)
            save_window(app, window, out / f"{name}{suffix}.png")

    ho, wo = step.problem.out_hw
    grab("step_by_step", FORWARD, (ho // 2, wo // 2))
    step.check_layer()
    wait_until(app, lambda: step.check is not None and not step.busy)
    dz = np.abs(step.problem.dz[0, 0])
    grab("step_by_step_backward", BACKWARD, tuple(int(v) for v in np.unravel_index(dz.argmax(), dz.shape)))
    grab("step_by_step_sgd", SGD_PAGE)
    session.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

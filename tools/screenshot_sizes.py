"""The Draw and Kernels & Blur tabs at a large (1440×900) and a small (1024×700) window,
and the dataset browser, to ``docs/screenshots/``:

    QT_QPA_PLATFORM=offscreen python tools/screenshot_sizes.py      # or under xvfb-run

Writes ``window_draw_1440x900.png``, ``window_draw_1024x700.png``, the same for
``kernels``, ``kernels_fixed_size_1024x700.png`` (a Gaussian whose size was fixed by hand,
with what it cuts off) and ``browser.png`` (Data ▸ Browse…, the 7s of the MNIST sample).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from take_screenshots import draw_three, open_window, output_folder, wait_until  # noqa: E402

SIZES = [(1440, 900), (1024, 700)]


def main(argv: list[str] | None = None) -> int:
    out = output_folder(__doc__, argv)
    app, session, window = open_window()
    window.show()

    def settle() -> None:
        for _ in range(40):
            app.processEvents()

    def save(widget, name: str) -> None:
        settle()
        path = out / name
        widget.grab().save(str(path))
        print("wrote", path)

    draw = window.draw_panel
    kernels = window.kernels_panel
    for i, (w, h) in enumerate(SIZES):
        window.resize(w, h)
        window.tabs.setCurrentWidget(draw)
        settle()
        if i == 0:
            draw_three(draw.canvas)
        draw.refresh()
        wait_until(app, lambda: draw.guess is not None and not draw.guess.empty)
        save(window, f"window_draw_{w}x{h}.png")
        window.tabs.setCurrentWidget(kernels)
        kernels.tabs.setCurrentIndex(0)
        save(window, f"window_kernels_{w}x{h}.png")
    blur = kernels.blur_view
    blur.auto_size.setChecked(False)
    blur.size_spin.setValue(5)
    blur.sigma_spin.setValue(3.0)
    wait_until(app, lambda: not blur._timer.isActive())  # the coalesced recompute has run
    save(window, "kernels_fixed_size_1024x700.png")

    browser = window.data_actions.browse()
    browser.resize(900, 640)
    browser.class_filter.setCurrentIndex(browser.class_filter.findData(7))
    save(browser, "browser.png")
    browser.close()
    session.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Event-loop latency of the GUI thread while the LeNet-like net trains in the worker.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui_latency.py [--images 2000]
        [--epochs 1] [--batch 64] [--tick-ms 10] [--window] [--trace]

Training runs through the ``Session`` (its worker thread), as in the app. A ``QTimer`` on
the GUI thread fires every ``tick-ms``; each tick's lateness (time since the previous tick
minus the interval) is the stall a user would feel. Two runs in the same process, each on
a freshly built net:

- ``session only``: no widgets listen — the floor set by the machine and the worker
  (CPU sharing with the worker's BLAS threads, GIL hand-overs);
- ``Model + Train tabs`` (``--window``: the whole main window with every tab): the same
  training drawn live by the panels.

Prints the median, 99th percentile and worst stall of each, and the time the Train tab's
slots took. ``--trace`` lists the worst stalls with the events (paints, queued signals)
that ran inside them. Targets (issue 5): worst stall < 100 ms, median < 20 ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from PyQt6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

LENET = "LeNet-like (32-64 conv, 128 dense)"
WORST_TARGET_MS, MEDIAN_TARGET_MS = 100.0, 20.0


class TimedApplication(QApplication):
    """Records the events that took the GUI thread more than 5 ms (paint, timers, queued
    signals …), to see what fills a stall. Used with ``--trace`` only: a Python
    ``notify`` costs a little on every event."""

    def __init__(self, argv):
        super().__init__(argv)
        self.event_log: list[tuple[float, str, float]] = []  # (start, event, seconds)

    def notify(self, receiver, event):  # noqa: D102 (Qt override)
        t = time.perf_counter()
        try:
            return super().notify(receiver, event)
        finally:
            dt = time.perf_counter() - t
            if dt > 0.005:  # nested events count in their parent too
                name = event.type().name
                if name == "Paint":
                    viewport = receiver.objectName() == "qt_scrollarea_viewport"
                    name += " " + type(receiver.parent() if viewport else receiver).__name__
                self.event_log.append((t, name, dt))


class SlotTimer:
    """Wraps GUI-side handlers of session signals to add up their run time."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.worst: dict[str, float] = {}

    def wrap(self, name: str, fn):
        def timed(*args):
            t = time.perf_counter()
            try:
                return fn(*args)
            finally:
                dt = time.perf_counter() - t
                self.seconds[name] = self.seconds.get(name, 0.0) + dt
                self.calls[name] = self.calls.get(name, 0) + 1
                self.worst[name] = max(self.worst.get(name, 0.0), dt)
        return timed


def train_and_measure(app, session, cfg, tick_ms: float) -> dict:
    """Train ``session.model`` with ``cfg`` while timing GUI ticks; returns the stalls."""
    ticks: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(int(tick_ms))
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()
    result: dict = {}
    def on_finished(history):
        result["history"] = history
        loop.quit()

    def on_failed(message):
        result["error"] = message
        loop.quit()

    session.training_finished.connect(on_finished)
    session.training_failed.connect(on_failed)
    if isinstance(app, TimedApplication):
        app.event_log.clear()
    timer.start()
    start = time.perf_counter()
    session.start_training(cfg)
    loop.exec()
    wall = time.perf_counter() - start
    timer.stop()
    session.training_finished.disconnect(on_finished)
    session.training_failed.disconnect(on_failed)
    if "error" in result:
        raise SystemExit(f"training failed: {result['error']}")
    t = np.asarray(ticks)
    stall = np.maximum(np.diff(t) * 1e3 - tick_ms, 0.0)  # (ticks - 1,) ms late
    return {"wall": wall, "ticks": t, "stall": stall, "start": start,
            "batches": len(result["history"].batch_loss)}


def report(label: str, r: dict, images: int) -> None:
    s = r["stall"]
    print(f"{label:22s} {r['batches']:4d} batches {r['wall']:6.1f} s {images / r['wall']:7,.0f} img/s"
          f"   stall median {np.median(s):6.2f} ms  p99 {np.percentile(s, 99):6.1f} ms  "
          f"worst {s.max():6.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=2000, help="training subset size")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--tick-ms", type=float, default=10.0)
    ap.add_argument("--window", action="store_true", help="the whole main window, every tab")
    ap.add_argument("--trace", action="store_true", help="list the worst stalls")
    args = ap.parse_args()

    app = (TimedApplication if args.trace else QApplication)(sys.argv[:1])
    from cnnlab.app.session import Session, load_dataset
    from cnnlab.lab.training import TrainingConfig
    from cnnlab.lab.presets import build_preset

    cfg = TrainingConfig(epochs=args.epochs, batch_size=args.batch, lr=1e-3,
                         subset=args.images, val_fraction=0.1)
    images = int(args.images * (1 - cfg.val_fraction)) * args.epochs
    print(f"LeNet-like, {args.images} MNIST images × {args.epochs} epoch(s), batch {args.batch}, "
          f"GUI timer every {args.tick_ms:g} ms")

    session = Session()
    session.set_dataset(load_dataset("mnist", "sample"))
    session.set_model(build_preset(LENET), LENET)
    reference = train_and_measure(app, session, cfg, args.tick_ms)
    report("session only", reference, images)

    session.set_model(build_preset(LENET), LENET)
    if args.window:
        from PyQt6.QtCore import QSettings

        from cnnlab.app.main_window import MainWindow

        settings = QSettings(str(Path(os.environ.get("TMPDIR", "/tmp")) / "bench_gui.ini"),
                             QSettings.Format.IniFormat)
        widgets = [MainWindow(session, settings)]
        train_panel, label = widgets[0].train_panel, "whole main window"
    else:
        from cnnlab.app.data_actions import DatasetActions
        from cnnlab.app.panels.model_panel import ModelPanel
        from cnnlab.app.panels.train_panel import TrainPanel

        train_panel = TrainPanel(session, DatasetActions(session))
        widgets, label = [ModelPanel(session), train_panel], "Model + Train tabs"
    for w in widgets:
        w.resize(1280, 760)
        w.show()
    app.processEvents()
    slots = SlotTimer()  # what the Train tab does with each report
    for signal, name, handler in ((session.batch_reported, "batch", train_panel._on_batch),
                                  (session.epoch_reported, "epoch", train_panel._on_epoch),
                                  (session.weights_updated, "weights", train_panel._on_weights)):
        signal.disconnect(handler)
        signal.connect(slots.wrap(name, handler))
    drawn = train_and_measure(app, session, cfg, args.tick_ms)
    report(label, drawn, images)
    session.shutdown()

    median, worst = np.median(drawn["stall"]), drawn["stall"].max()
    print(f"targets: median < {MEDIAN_TARGET_MS:g} ms "
          f"{'ok' if median < MEDIAN_TARGET_MS else 'MISSED'} · worst < {WORST_TARGET_MS:g} ms "
          f"{'ok' if worst < WORST_TARGET_MS else 'MISSED'} · worst vs session only "
          f"{worst / max(reference['stall'].max(), 1e-9):.2f}×")
    for name in slots.seconds:
        calls, sec = slots.calls[name], slots.seconds[name]
        print(f"  Train tab slot {name:8s} {calls:5d} calls {1e3 * sec / calls:6.2f} ms each, "
              f"worst {1e3 * slots.worst[name]:6.2f} ms")
    if args.trace:
        t = drawn["ticks"]
        print("worst stalls with the events (> 5 ms) that ran inside them:")
        for i in np.argsort(drawn["stall"])[::-1][:8]:
            inside = [f"{n} {1e3 * d:.1f} ms" for s, n, d in app.event_log if t[i] <= s <= t[i + 1]]
            print(f"  {drawn['stall'][i]:6.1f} ms at {t[i + 1] - drawn['start']:6.2f} s: "
                  f"{', '.join(inside) or 'no event over 5 ms (CPU or GIL wait)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

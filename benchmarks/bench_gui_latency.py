"""Event-loop latency of the GUI thread while the LeNet-like net trains in the worker.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui_latency.py [--images 2000]
        [--epochs 1] [--batch 64] [--tick-ms 10] [--window]

Training runs through the ``Session`` (its worker thread) with the Model and Train tabs
listening, as in the app (``--window``: the whole main window with every tab). A
``QTimer`` on the GUI thread fires every ``tick-ms``; each tick's lateness (time since the
previous tick minus the interval) is the stall a user would feel. Prints the median, 99th
percentile and worst stall, and the time the GUI thread spent in the panels' slots.
Targets (issue 5): worst stall < 100 ms, median < 20 ms.
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


class SlotTimer:
    """Wraps the GUI-side handlers of session signals to add up their run time."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.worst: dict[str, float] = {}
        self.events: list[tuple[float, str, float]] = []  # (start, name, seconds)

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
                self.events.append((t, name, dt))
        return timed


class TimedApplication(QApplication):
    """Adds up the time the GUI thread spends delivering each kind of event (paint,
    timers, queued signals …), to see what fills a stall."""

    def __init__(self, argv):
        super().__init__(argv)
        self.event_seconds: dict[str, float] = {}
        self.event_log: list[tuple[float, str, float]] = []  # (start, event type, seconds)
        self.recording = False

    def notify(self, receiver, event):  # noqa: D102 (Qt override)
        if not self.recording:
            return super().notify(receiver, event)
        t = time.perf_counter()
        try:
            return super().notify(receiver, event)
        finally:
            dt = time.perf_counter() - t
            if dt > 0.002:  # only what could matter; nested events count in their parent too
                name = event.type().name
                self.event_seconds[name] = self.event_seconds.get(name, 0.0) + dt
                self.event_log.append((t, name, dt))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=2000, help="training subset size")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--tick-ms", type=float, default=10.0)
    ap.add_argument("--window", action="store_true", help="the whole main window, every tab")
    ap.add_argument("--trace", action="store_true", help="list the worst stalls")
    args = ap.parse_args()

    app = TimedApplication(sys.argv[:1])
    from cnnlab.app.session import Session, TrainingConfig, load_dataset
    from cnnlab.engine.presets import build_preset

    session = Session()
    session.set_dataset(load_dataset("mnist", "sample"))
    session.set_model(build_preset(LENET), LENET)
    if args.window:
        from PyQt6.QtCore import QSettings

        from cnnlab.app.main_window import MainWindow

        settings = QSettings(str(Path(os.environ.get("TMPDIR", "/tmp")) / "bench_gui.ini"),
                             QSettings.Format.IniFormat)
        widgets = [MainWindow(session, settings)]
        train_panel = widgets[0].train_panel
    else:
        from cnnlab.app.data_actions import DatasetActions
        from cnnlab.app.panels.model_panel import ModelPanel
        from cnnlab.app.panels.train_panel import TrainPanel

        train_panel = TrainPanel(session, DatasetActions(session))
        widgets = [ModelPanel(session), train_panel]
    for w in widgets:
        w.resize(1280, 760)
        w.show()
    app.processEvents()

    # time what the Train tab does with each report (the bulk of the GUI-side work)
    slots = SlotTimer()
    for signal, name, handler in ((session.batch_reported, "batch", train_panel._on_batch),
                                  (session.epoch_reported, "epoch", train_panel._on_epoch),
                                  (session.weights_updated, "weights", train_panel._on_weights)):
        signal.disconnect(handler)
        signal.connect(slots.wrap(name, handler))

    ticks: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(int(args.tick_ms))
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))

    loop = QEventLoop()
    result: dict = {}
    session.training_finished.connect(lambda h: (result.setdefault("history", h), loop.quit()))
    session.training_failed.connect(lambda m: (result.setdefault("error", m), loop.quit()))
    cfg = TrainingConfig(epochs=args.epochs, batch_size=args.batch, lr=1e-3,
                         subset=args.images, val_fraction=0.1)
    timer.start()
    app.recording = args.trace
    start = time.perf_counter()
    session.start_training(cfg)
    loop.exec()
    wall = time.perf_counter() - start
    timer.stop()
    session.shutdown()
    if "error" in result:
        print("training failed:", result["error"])
        return 1

    gaps = np.diff(np.asarray(ticks)) * 1e3  # (ticks-1,) ms between ticks
    stall = np.maximum(gaps - args.tick_ms, 0.0)
    history = result["history"]
    n_batches = len(history.batch_loss)
    print(f"LeNet-like, {args.images} images × {args.epochs} epoch(s), batch {args.batch}: "
          f"{n_batches} batches in {wall:.1f} s ({args.images * args.epochs * 0.9 / wall:,.0f} img/s)"
          f"{' — whole main window' if args.window else ' — Model + Train tabs'}")
    print(f"GUI timer: {len(ticks)} ticks of {args.tick_ms:g} ms "
          f"(ideal {wall * 1e3 / args.tick_ms:,.0f})")
    median, p99, worst = np.median(stall), np.percentile(stall, 99), stall.max()
    print(f"stall   median {median:6.2f} ms   p99 {p99:6.2f} ms   worst {worst:6.2f} ms")
    print(f"targets median < {MEDIAN_TARGET_MS:g} ms: {'ok' if median < MEDIAN_TARGET_MS else 'MISSED'}"
          f" · worst < {WORST_TARGET_MS:g} ms: {'ok' if worst < WORST_TARGET_MS else 'MISSED'}")
    for name in slots.seconds:
        calls, sec = slots.calls[name], slots.seconds[name]
        print(f"  GUI slot {name:8s} {calls:5d} calls  {1e3 * sec / calls:6.2f} ms each  "
              f"worst {1e3 * slots.worst[name]:6.2f} ms  {1e3 * sec:8.1f} ms total")
    if args.trace:
        tick_times = np.asarray(ticks)
        print("worst stalls (end of stall, s since start) and the GUI slots that ran in them:")
        for i in np.argsort(stall)[::-1][:8]:
            t0, t1 = tick_times[i], tick_times[i + 1]
            inside = [f"{n} {1e3 * d:.1f} ms" for t, n, d in slots.events if t0 <= t <= t1]
            inside += [f"[{n} {1e3 * d:.1f} ms]" for t, n, d in app.event_log
                       if t0 <= t <= t1 and d > 0.005]
            print(f"  {stall[i]:6.1f} ms at {t1 - start:6.2f} s: {', '.join(inside) or 'no slot'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

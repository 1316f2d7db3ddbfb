"""Background jobs: throttled progress, results, failures and cancellation."""

import threading

import pytest

from cnnlab.app.jobs import JobCancelled, JobContext, JobProgress


@pytest.fixture
def session(qtbot):
    from cnnlab.app.session import Session

    s = Session()
    yield s
    assert s.shutdown(timeout_ms=5000)


def test_context_coalesces_reports_to_the_rate_limit():
    sent = []
    ctx = JobContext(sent.append, threading.Event(), max_rate=1e-3)  # one report per 1000 s
    for i in range(100):
        ctx.report(i)
    assert sent == [0]  # the first goes out, the rest are coalesced
    ctx.flush()
    assert sent == [0, 99]  # only the latest pending one is kept
    ctx.report("epoch", force=True)
    assert sent[-1] == "epoch"


def test_forced_report_sends_pending_one_first():
    sent = []
    ctx = JobContext(sent.append, threading.Event(), max_rate=1e-3)
    ctx.report("a")
    ctx.report("b")  # pending
    ctx.report("c", force=True)
    assert sent == ["a", "b", "c"]


def test_progress_fraction():
    assert JobProgress(5, 20).fraction == 0.25
    assert JobProgress(3, 0).fraction == 0.0


def test_job_returns_result_and_reports_progress(qtbot, session):
    def work(ctx):
        for i in range(5):
            ctx.progress(i + 1, 5, f"step {i + 1}")
        return "result"

    seen = []
    job = session.run_job("count", work)
    job.progress.connect(seen.append)
    with qtbot.waitSignal(job.finished, timeout=5000) as blocker:
        pass
    assert blocker.args == ["result"]
    qtbot.waitUntil(lambda: not job.running, timeout=2000)
    assert seen and seen[-1] == JobProgress(5, 5, "step 5")
    qtbot.waitUntil(lambda: session.running_jobs() == [], timeout=2000)


def test_job_failure_is_reported_not_raised(qtbot, session):
    def broken(ctx):
        raise ValueError("layer Conv2D #1 exploded")

    job = session.run_job("broken", broken)
    with qtbot.waitSignal(job.failed, timeout=5000) as blocker:
        pass
    assert "Conv2D #1 exploded" in blocker.args[0]
    assert "ValueError" in job.traceback


def test_job_cancel_stops_a_cooperative_loop(qtbot, session):
    started = threading.Event()

    def forever(ctx):
        started.set()
        n = 0
        while not ctx.should_stop():
            n += 1
            threading.Event().wait(0.001)
        raise JobCancelled

    job = session.run_job("forever", forever)
    assert started.wait(5)
    with qtbot.waitSignal(job.cancelled, timeout=5000):
        job.cancel()
    assert job.cancel_requested and not job.running


def test_shutdown_joins_running_jobs(qtbot):
    from cnnlab.app.session import Session

    s = Session()
    started = threading.Event()

    def forever(ctx):
        started.set()
        while not ctx.should_stop():
            threading.Event().wait(0.001)
        return "partial"

    s.run_job("forever", forever)
    assert started.wait(5)
    assert s.shutdown(timeout_ms=5000)
    assert s.running_jobs() == []


class _Result:
    """A stand-in for a big result (weak-referenceable)."""


def _flush_deletes(qtbot) -> None:
    """Run the event loop and the deferred deletions it would run, then the GC."""
    import gc

    from PyQt6.QtCore import QCoreApplication

    qtbot.wait(20)
    QCoreApplication.processEvents()
    gc.collect()


def test_finished_job_is_collected_with_its_result_and_closure(qtbot, session):
    import weakref

    import numpy as np

    captured = np.ones(1000)
    results = []
    def make_work(data):  # the closure captures the array, as a view's job function does
        return lambda ctx: (data.sum(), _Result())[1]

    job = session.run_job("count", make_work(captured))
    job.finished.connect(lambda r: results.append(weakref.ref(r)))  # the view takes what it needs
    with qtbot.waitSignal(job.done, timeout=5000):
        pass
    job_ref, data_ref = weakref.ref(job), weakref.ref(captured)
    del job, captured
    _flush_deletes(qtbot)
    assert session.running_jobs() == [] and not session._threads
    assert job_ref() is None, "the finished Job is still alive"
    assert results and results[0]() is None, "the job's result is still reachable"
    assert data_ref() is None, "the job function's closure is still alive"


def test_cancelled_and_failed_jobs_are_collected(qtbot, session):
    import weakref

    def broken(ctx):
        raise ValueError("no")

    def cancelled(ctx):
        raise JobCancelled

    refs = []
    for fn in (broken, cancelled):
        job = session.run_job(fn.__name__, fn)
        with qtbot.waitSignal(job.done, timeout=5000):
            pass
        refs.append(weakref.ref(job))
        del job
    _flush_deletes(qtbot)
    assert [r() for r in refs] == [None, None]


def test_finished_job_ends_at_100_percent_with_an_eta_on_the_way(qtbot, session, monkeypatch):
    from cnnlab.app import jobs
    from cnnlab.app.jobs import JobKind

    clock = [100.0]
    monkeypatch.setattr(jobs.time, "perf_counter", lambda: clock[0])
    gate = threading.Event()

    def work(ctx):
        gate.wait(5)
        return 1

    job = session.run_job("sweep", work, JobKind.SWEEP)
    assert job.kind is JobKind.SWEEP and job.fraction is None and job.eta_s is None
    clock[0] += 10.0
    job.set_progress(0.25, "cell 3/12")
    assert job.eta_s == pytest.approx(30.0) and job.detail == "cell 3/12"
    seen = []
    job.progress_changed.connect(lambda: seen.append(job.fraction))
    with qtbot.waitSignal(job.done, timeout=5000):
        gate.set()
    assert seen[-1] == 1.0 and job.eta_s == 0.0


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_job_threads_yield_the_cpu_to_the_window(qtbot, session):
    import os

    from cnnlab.app.jobs import JOB_NICENESS

    def niceness():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def work(ctx):
        seen = []
        helper = threading.Thread(target=lambda: seen.append(niceness()))
        helper.start()
        helper.join()
        return niceness(), seen[0]

    window = niceness()
    job = session.run_job("nice", work)
    with qtbot.waitSignal(job.finished, timeout=5000) as blocker:
        pass
    job_nice, helper_nice = blocker.args[0]
    assert job_nice == helper_nice == min(19, window + JOB_NICENESS)  # helpers inherit it
    assert niceness() == window  # the window's thread is untouched

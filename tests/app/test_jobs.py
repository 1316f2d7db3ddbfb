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

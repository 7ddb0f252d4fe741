"""The background door: workers that solve queued schedules (``vpp.services.
schedule_jobs`` says how the queue works). Like the other doors it owns the
transactions: a claim, each heartbeat, and the answer with every plant's part are each
committed whole or not at all.

Workers run as threads in each server process (``SCHEDULE_WORKER_THREADS``, default 1,
started with the first request, so after gunicorn forks) and as ``flask schedules
worker`` processes.

The telemetry housekeeping (``housekeep``: silent plants taken down, old readings
purged) runs as one more thread per server process (``TELEMETRY_SWEEP``), in
``flask telemetry listen`` and in ``flask telemetry sweep``.
"""

import logging
import os
import socket
import threading
import time
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from vpp.extensions import db
from vpp.services import schedule_jobs, telemetry
from vpp.services.schedule import schedule
from vpp.transactions import transaction

log = logging.getLogger(__name__)

EXTENSION_KEY = "vpp.schedule_workers"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def claim(worker: str, schedule_id: int | None = None) -> int | None:
    """Take the oldest takeable job (or only ``schedule_id``); its id, or None once
    none is left to take. Each try is its own transaction."""
    while True:
        candidates = schedule_jobs.claim_candidates(schedule_id)
        db.session.rollback()
        if not candidates:
            return None
        for candidate in candidates:
            with transaction():
                taken = schedule_jobs.try_claim(candidate, worker)
            if taken:
                return candidate
        # Every candidate was taken by another worker meanwhile: look again.


def fail_abandoned() -> int:
    with transaction():
        return schedule_jobs.fail_abandoned()


class _Heartbeat:
    """Beats for a running job every third of the lease, in its own thread and
    session, with the solver's latest progress; notices when the job is no longer
    this worker's (the solve is then told to stop)."""

    def __init__(self, app: Flask, schedule_id: int, worker: str, lease_s: float):
        self.app, self.schedule_id, self.worker = app, schedule_id, worker
        self.interval = max(0.2, lease_s / 3)
        self.started = time.perf_counter()
        self.objective: float | None = None
        self.bound: float | None = None
        self.lost = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="vpp-heartbeat")

    def __enter__(self) -> "_Heartbeat":
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.done.set()
        self.thread.join()

    def report(self, objective: float | None, bound: float | None) -> bool:
        """The solver's progress callback: keeps the latest figures; True (stop) once
        the job is no longer this worker's."""
        if objective is not None:
            self.objective = objective
        if bound is not None:
            self.bound = bound
        return self.lost.is_set()

    def progress(self) -> dict[str, Any]:
        gap = None
        if self.objective is not None and self.bound is not None:
            gap = max(0.0, (self.objective - self.bound) / max(abs(self.objective), 1.0))
        return {
            "objective": self.objective,
            "lower_bound": self.bound,
            "gap": gap,
            "elapsed_s": round(time.perf_counter() - self.started, 3),
        }

    def _run(self) -> None:
        with self.app.app_context():
            while not self.done.wait(self.interval):
                try:
                    with transaction():
                        mine = schedule_jobs.beat(self.schedule_id, self.worker, self.progress())
                except sa.exc.SQLAlchemyError:  # the database is out: try at the next beat
                    log.warning("schedule %s: heartbeat not written", self.schedule_id)
                    continue
                if not mine:
                    self.lost.set()
                    return
            db.session.remove()


def run(schedule_id: int, worker: str) -> str:
    """Solve a job ``worker`` has claimed and keep its answer (or its failure, with
    the reason). Returns "done", "failed" or "lost" (taken over meanwhile)."""
    lease_s, _ = schedule_jobs.settings()
    record = schedule_jobs.get_schedule(schedule_id)
    options = dict(record.options)
    app = current_app._get_current_object()
    with _Heartbeat(app, schedule_id, worker, lease_s) as heartbeat:
        try:
            with transaction():  # silent telemetry plants down before the fleet is read
                telemetry.sweep()
            problem, plants, sources = schedule_jobs.build_problem(record)
            db.session.rollback()  # no read transaction held open while solving
            answer = schedule(
                problem,
                time_limit_s=options["time_limit_s"],
                target_gap=options["target_gap"],
                progress=heartbeat.report,
            )
        except sa.exc.SQLAlchemyError:
            raise  # the database, not the job: its heartbeat stops, it is retried
        except Exception as exc:  # noqa: BLE001 — any other failure is the job's, said on it
            db.session.rollback()
            log.exception("schedule %s failed", schedule_id)
            with transaction():
                schedule_jobs.mark_failed(schedule_id, worker, f"{exc.__class__.__name__}: {exc}")
            return "failed"
    if heartbeat.lost.is_set():
        return "lost"
    with transaction():
        kept = schedule_jobs.keep_answer(schedule_id, worker, problem, answer, plants, sources)
    return "done" if kept else "lost"


def work(
    app: Flask,
    stop: threading.Event,
    *,
    once: bool = False,
    schedule_id: int | None = None,
    poll_s: float = 1.0,
) -> int:
    """Claim and solve jobs until ``stop`` is set (with ``once``: until none is
    waiting). Returns how many it solved."""
    solved = 0
    name = worker_name()
    with app.app_context():
        while not stop.is_set():
            try:
                fail_abandoned()
                claimed = claim(name, schedule_id)
            except Exception:  # noqa: BLE001 — a worker outlives any one failure
                db.session.rollback()
                if once:
                    raise
                log.exception("schedule worker: cannot read the queue; trying again")
                claimed = None
            if claimed is None:
                if once:
                    return solved
                stop.wait(poll_s)
                continue
            try:
                run(claimed, name)
                solved += 1
            except Exception:  # noqa: BLE001 — its heartbeat stops: retried after the lease
                db.session.rollback()
                log.exception("schedule %s: the worker failed while it ran", claimed)
                if once:
                    raise
            db.session.remove()
    return solved


def sweep_interval(app: Flask) -> float:
    """How often silence is checked: a quarter of ``VPP_STALE_AFTER_S`` (so a silent
    plant is down within 1.25 times it), between 0.25 and 15 s."""
    return min(15.0, max(0.25, float(app.config["VPP_STALE_AFTER_S"]) / 4))


PURGE_EVERY_S = 600.0


def housekeep_once(purge: bool = False) -> list[int]:
    """One silence check (and, with ``purge``, the readings past their retention),
    each step its own transaction. The plants taken down."""
    with transaction():
        taken = telemetry.sweep()
    if taken:
        log.warning("telemetry: %d plant(s) silent, taken down: %s", len(taken), taken[:20])
    while purge:
        with transaction():
            if not telemetry.purge():
                break
    return taken


class Housekeeping:
    """When the telemetry housekeeping is due, for a loop that runs it among other
    work: the silence check every ``sweep_interval``, the purge every
    ``PURGE_EVERY_S`` (both at once the first time)."""

    def __init__(self, app: Flask):
        self.interval = sweep_interval(app)
        self.next_sweep = self.next_purge = 0.0

    def run_if_due(self) -> None:
        moment = time.monotonic()
        if moment < self.next_sweep:
            return
        purge = moment >= self.next_purge
        housekeep_once(purge)
        self.next_sweep = moment + self.interval
        if purge:
            self.next_purge = moment + PURGE_EVERY_S


def housekeep(app: Flask, stop: threading.Event) -> None:
    """The server's housekeeping thread: ``Housekeeping`` until ``stop`` is set."""
    keeping = Housekeeping(app)
    with app.app_context():
        while not stop.is_set():
            try:
                keeping.run_if_due()
            except Exception:  # noqa: BLE001 — the check outlives any one failure
                db.session.rollback()
                log.exception("telemetry housekeeping failed; trying again")
            db.session.remove()
            stop.wait(keeping.interval)


_started_lock = threading.Lock()


def start_background_workers(app: Flask) -> None:
    """The server's own workers: ``SCHEDULE_WORKER_THREADS`` threads, started once per
    process."""
    with _started_lock:
        if EXTENSION_KEY in app.extensions:
            return
        count = int(app.config["SCHEDULE_WORKER_THREADS"])
        stop = threading.Event()
        threads = [
            threading.Thread(target=work, args=(app, stop), daemon=True, name=f"vpp-schedules-{i}")
            for i in range(count)
        ]
        if app.config["TELEMETRY_SWEEP"]:
            threads.append(
                threading.Thread(
                    target=housekeep, args=(app, stop), daemon=True, name="vpp-telemetry"
                )
            )
        app.extensions[EXTENSION_KEY] = (stop, threads)
        for thread in threads:
            thread.start()

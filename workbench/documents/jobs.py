"""Background ingest inside the app process: one worker thread takes queued documents in order,
reports each one's stage and progress, and refreshes the vector index when the table has grown
past the threshold, so uploads return at once and the page stays usable."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.documents import ingest

if TYPE_CHECKING:
    from workbench.home import Workbench

log = logging.getLogger(__name__)


@dataclass
class JobState:
    filename: str
    stage: str = "queued"
    fraction: float = 0.0
    status: str = "queued"  # queued / running / completed / failed
    message: str = ""


class IngestWorker:
    """A queue of document UUIDs processed by one daemon thread, into `wb`'s store and vectors
    with its embedder (the app's handle, shared with the pages)."""

    def __init__(self, wb: Workbench) -> None:
        self.wb = wb
        self._queue: queue.Queue[str] = queue.Queue()
        self._states: dict[str, JobState] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.index_note = ""

    def submit(self, document_uuid: str, filename: str) -> None:
        """Queue a registered (pending) document."""
        with self._lock:
            self._states[document_uuid] = JobState(filename)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ingest-worker", daemon=True)
                self._thread.start()
        self._queue.put(document_uuid)

    def states(self) -> dict[str, JobState]:
        """A snapshot of every job this process has seen."""
        with self._lock:
            return {k: JobState(**vars(v)) for k, v in self._states.items()}

    @property
    def busy(self) -> bool:
        with self._lock:
            return any(s.status in ("queued", "running") for s in self._states.values())

    def wait(self, timeout: float | None = None) -> None:
        """Block until the queue is drained (tests and the CLI)."""
        self._queue.join() if timeout is None else _join(self._queue, timeout)

    def _update(self, document_uuid: str, **changes) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self._states[document_uuid], key, value)

    def _run(self) -> None:
        while True:
            document_uuid = self._queue.get()
            try:
                self._update(document_uuid, status="running", stage="starting")
                wb = self.wb
                outcome = ingest.process(
                    wb.settings,
                    wb.store,
                    wb.vectors,
                    wb.embedder,
                    document_uuid,
                    lambda stage, f, u=document_uuid: self._update(u, stage=stage, fraction=f),
                )
                self._update(
                    document_uuid,
                    status=outcome.status,
                    stage=outcome.status,
                    fraction=1.0,
                    message=outcome.message,
                )
                if self._queue.unfinished_tasks <= 1:
                    self.index_note = wb.vectors.build_ann_index(wb.settings.ann_min_rows)
            except Exception as exc:  # a worker that dies silently would leave the page waiting forever
                log.exception("background ingest failed")
                self._update(document_uuid, status="failed", stage="failed", message=str(exc))
            finally:
                self._queue.task_done()


def _join(q: queue.Queue, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while q.unfinished_tasks and time.monotonic() < deadline:
        time.sleep(0.05)

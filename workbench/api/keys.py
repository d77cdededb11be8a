"""Who is calling: `Authorization: Bearer <key>` read into the key's context on every request.

A client that keeps failing is slowed down: after FAILURES_ALLOWED failed keys in WINDOW_S seconds
from one address, every request from it is answered 429 until the window has passed, whatever key
it sends, so a key cannot be guessed by trying many."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Annotated

from fastapi import Depends, Request

from workbench.accounts import api_keys
from workbench.accounts.context import Context
from workbench.errors import AuthFailed, WorkbenchError

FAILURES_ALLOWED = 10
WINDOW_S = 60.0


class TooManyFailures(WorkbenchError):
    """Too many failed keys from one address."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed API keys from this address: try again in {retry_after} s.")
        self.retry_after = retry_after


class Limiter:
    """Failed authentications per client address, over a sliding window."""

    def __init__(self, allowed: int = FAILURES_ALLOWED, window_s: float = WINDOW_S) -> None:
        self.allowed, self.window_s = allowed, window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.get(client, deque())
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        return failures

    def check(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            failures = self._recent(client, now)
            if not failures:
                self._failures.pop(client, None)  # only addresses failing now are kept
            elif len(failures) >= self.allowed:
                raise TooManyFailures(max(1, int(failures[0] + self.window_s - now + 0.999)))

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._failures[client] = self._recent(client, now)
            self._failures[client].append(now)


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthFailed("Send an API key: `Authorization: Bearer wbk_...`. An admin creates one on the"
                         " API keys page or with `workbench key create`.")
    return key.strip()


def context(request: Request) -> Context:
    """The acting context of this request (a FastAPI dependency)."""
    limiter: Limiter = request.app.state.limiter
    client = request.client.host if request.client else "unknown"
    limiter.check(client)
    try:
        key = bearer(request)
        with request.app.state.wb.store.connect() as con:
            request.state.ctx = api_keys.verify_api_key(con, key)
            return request.state.ctx
    except AuthFailed:
        limiter.failed(client)
        raise


Acting = Annotated[Context, Depends(context)]  # a route's `ctx: Acting` is the key's context

"""A scripted chat-completions server on 127.0.0.1 for the provider tests: real HTTP, real SSE,
no network and no model. Set `reply`, `mode` and `delay_s`, then read what it received in `requests`.

Modes: ok, no_usage (streams without a usage chunk), malformed (data lines that are not JSON),
slow (waits `delay_s` before answering), unauthorized (401), server_error (500),
unknown_model (404).

Use: `from tests.fake_openai import fake_openai_fixture  # noqa: F401`, then ask for `fake_openai`."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

MODES = ("ok", "no_usage", "malformed", "slow", "unauthorized", "server_error", "unknown_model")
ERRORS = {
    "unauthorized": (401, "Incorrect API key provided: sk-wr***ng.", "invalid_request_error",
                     "invalid_api_key"),
    "server_error": (500, "The server had an error while processing your request.", "server_error", None),
    "unknown_model": (404, "The model does not exist or you do not have access to it.",
                      "invalid_request_error", "model_not_found"),
}


class FakeOpenAI:
    """The server, as a context manager; `url` is the base URL to hand the client."""

    def __init__(self, reply: str = "Paris is the capital of France. [1]") -> None:
        self.reply = reply
        self.mode = "ok"
        self.delay_s = 3.0
        self.prompt_tokens = 42
        self.completion_tokens = 7
        self.requests: list[dict] = []
        self.authorizations: list[str] = []
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()  # wake a handler still sleeping in slow mode
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def chunks(self, model: str, include_usage: bool) -> list[dict]:
        """The streamed answer: a role chunk, one chunk per word, a stop chunk, then usage."""
        def chunk(delta: dict, finish: str | None = None) -> dict:
            return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        out = [chunk({"role": "assistant", "content": ""})]
        out += [chunk({"content": piece}) for piece in re.split(r"(?<= )", self.reply) if piece]
        out.append(chunk({}, "stop"))
        if include_usage and self.mode != "no_usage":
            out.append({**chunk({}), "choices": [], "usage": self.usage()})
        return out

    def completion(self, model: str) -> dict:
        body = {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": self.reply},
                             "finish_reason": "stop"}]}
        if self.mode != "no_usage":
            body["usage"] = self.usage()
        return body

    def usage(self) -> dict:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet

    def do_POST(self) -> None:
        fake: FakeOpenAI = self.server.fake  # type: ignore[attr-defined]
        try:
            self._answer(fake)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test) or the server is closing

    def _answer(self, fake: FakeOpenAI) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._error(404, f"Unknown path {self.path}", "invalid_request_error", None)
        fake.requests.append(body)
        fake.authorizations.append(self.headers.get("Authorization", ""))
        if fake.mode in ERRORS:
            return self._error(*ERRORS[fake.mode])
        if fake.mode == "slow" and fake._released.wait(fake.delay_s):
            return
        model = body.get("model", "")
        if not body.get("stream"):
            return self._send(200, "application/json", b"not json" if fake.mode == "malformed"
                              else json.dumps(fake.completion(model)).encode())
        if fake.mode == "malformed":
            lines = ["data: {choices: [oops\n\n", "data: <html>Bad gateway</html>\n\n", "data: [DONE]\n\n"]
        else:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            lines = [f"data: {json.dumps(c)}\n\n" for c in fake.chunks(model, include_usage)]
            lines.append("data: [DONE]\n\n")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for line in lines:
            self.wfile.write(line.encode())
            self.wfile.flush()

    def _error(self, status: int, message: str, kind: str, code: str | None) -> None:
        error = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        self._send(status, "application/json", json.dumps(error).encode())

    def _send(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture(name="fake_openai")
def fake_openai_fixture():
    """A running fake chat-completions server, closed after the test. Import this name; tests ask for
    `fake_openai` (named apart so that the argument does not shadow the import)."""
    with FakeOpenAI() as fake:
        yield fake

"""Twenty people on the app at once: page times under load, against one session alone.

    .venv/bin/python bench/load.py                        # demo home built here, 20 sessions, 60 s
    .venv/bin/python bench/load.py --sessions 5 --seconds 20 --home DIR
    .venv/bin/python bench/load.py --url http://127.0.0.1:8501 --pids 1,2   # a running deployment

Starts the real app (`workbench serve`) on a data home with the demo loaded (built here with
`workbench init` and `workbench demo` unless --home names one; the embedding backend is the
default unless WORKBENCH_EMBEDDING_BACKEND says otherwise). Each session is a thread speaking
Streamlit's own websocket protocol, as a browser tab does, minus the drawing: it logs in through
the login form as a user who may open every page used here (managers, data scientists and admins
of both demo organisations, in turn, so several tabs share a user), then, once every session is
in, all loop at once over Home, Chat (a question to the default extractive provider, in the
session's own conversation), Usage and Calls with no pause between pages. A page time runs from
the request to the server's "script finished", reruns included; --think adds a pause after each
page, as a reading user makes, and then each session starts after a random part of one pause
(people do not all click in the same second). The logins run one after another: two logins of the
same user at the same moment conflict on the user's row in DuckDB.

First one session alone renders each page a few times (the baseline), then all sessions run at
once for --seconds. An error is an exception element, an st.error other than a budget alert, a
run that does not finish within 120 s, or a dropped connection; the script exits 1 on any.

Why not Streamlit's AppTest in threads: AppTest swaps a process-wide mock Runtime in and out
around each run (`Runtime._instance`), so concurrent runs break each other (four threads hung
here with "missing ScriptRunContext"). Processes would each open the database themselves, which
the app never does: it is one process, one store, and sessions are threads inside it.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.sync.client import connect

WORKBENCH = str(Path(sys.executable).parent / "workbench")
PASSWORD = "workbench-demo"
USERS = ["mike", "maria", "dan", "diego", "alice", "hannah"]  # Home, Chat, Calls and Usage for each
PAGES = ["Home", "Chat", "Usage", "Calls"]
QUESTIONS = [
    "Is a phone that arrives damaged replaced free of charge?",
    "How long does a refund take?",
    "What does roaming cost with the Travel Pass?",
    "How do I reset my password?",
    "What happens when a bill is paid late?",
    "Can I cancel my plan within the first month?",
]
RUN_TIMEOUT_S = 120
BASELINE_RUNS = 5


class PageError(Exception):
    """A page run that a user would see as broken."""


@dataclass
class Tally:
    times: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # the app's CPU seconds a render
    runs: list[tuple[float, float]] = field(default_factory=list)  # (monotonic start, seconds) a render

    def add(self, page: str, seconds: float, cpu: float | None = None) -> None:
        self.times.setdefault(page, []).append(seconds)
        self.runs.append((time.monotonic() - seconds, seconds))
        if cpu is not None:
            self.cpu.setdefault(page, []).append(cpu)

    def merge(self, other: Tally) -> None:
        for page, values in other.times.items():
            self.times.setdefault(page, []).extend(values)
        self.errors.extend(other.errors)
        self.runs.extend(other.runs)


class Session:
    """One browser tab's conversation with the server: rerun requests out, deltas back."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.pages: dict[str, str] = {}  # page name -> script hash, from the navigation message
        self.widgets: dict[tuple[str, str], str] = {}  # (kind, label) -> widget id of the last run

    def run(self, widgets: list[WidgetState] | None = None, page: str | None = None) -> float:
        """One script run (and the reruns it asks for); its seconds. Raises PageError."""
        back = BackMsg()
        back.rerun_script.query_string = ""
        back.rerun_script.page_script_hash = self.pages[page] if page else ""
        back.rerun_script.widget_states.widgets.extend(widgets or [])
        started = time.perf_counter()
        self.ws.send(back.SerializeToString())
        self.widgets, problems = {}, []
        while True:
            remaining = RUN_TIMEOUT_S - (time.perf_counter() - started)
            try:
                raw = self.ws.recv(timeout=max(remaining, 0.01))
            except TimeoutError:
                raise PageError(f"{page or 'page'}: no end of run after {RUN_TIMEOUT_S} s") from None
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                problems += self._element(msg.delta.new_element)
            elif kind == "navigation":
                self.pages = {p.page_name: p.page_script_hash for p in msg.navigation.app_pages}
            elif kind == "page_not_found":
                problems.append(f"page not found: {msg.page_not_found.page_name}")
            elif kind == "script_finished":
                if msg.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue  # st.rerun(): the next run follows on its own
                if msg.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    problems.append("compile error")
                break
        seconds = time.perf_counter() - started
        if problems:
            raise PageError(f"{page or 'page'}: " + "; ".join(problems))
        return seconds

    def _element(self, element) -> list[str]:
        kind = element.WhichOneof("type")
        if kind == "exception":
            where = " < ".join(line.strip() for line in element.exception.stack_trace[-6:])
            return [f"exception {element.exception.type}: {element.exception.message[:200]} at {where}"]
        if kind == "alert" and element.alert.format == element.alert.ERROR:
            body = element.alert.body
            # budget alerts are st.error on purpose (the demo's data scientist overran his budget)
            return [] if body.startswith("Budget exceeded") else [f"error: {body[:200]}"]
        if kind in ("text_input", "button", "chat_input"):
            widget = getattr(element, kind)
            self.widgets[(kind, getattr(widget, "label", "") or widget.placeholder)] = widget.id
        return []

    def log_in(self, username: str) -> None:
        self.run()
        ids = self.widgets
        self.run([
            WidgetState(id=ids[("text_input", "Username")], string_value=username),
            WidgetState(id=ids[("text_input", "Password")], string_value=PASSWORD),
            WidgetState(id=ids[("button", "Log in")], trigger_value=True),
        ])
        if not set(PAGES) <= set(self.pages):
            raise PageError(f"{username} logged in but sees only {sorted(self.pages)}")

    def ask(self, question: str) -> float:
        """The Chat page is open: send a question; the seconds until the answer is rendered."""
        chat_id = next((v for (k, _label), v in self.widgets.items() if k == "chat_input"), None)
        if chat_id is None:
            raise PageError("Chat: no chat input on the page")
        state = WidgetState(id=chat_id)
        state.chat_input_value.data = question
        return self.run([state], page="Chat")


class Start:
    """The load begins once every session has logged in (one after another: see the docstring)."""

    def __init__(self, sessions: int, seconds: float, on_start=None) -> None:
        self.login, self.seconds, self._left = threading.Lock(), seconds, sessions
        self._all_in, self.until, self.on_start = threading.Condition(), 0.0, on_start

    def logged_in(self) -> None:
        """Called once per session, logged in or not; returns when the load starts."""
        with self._all_in:
            self._left -= 1
            if self._left == 0:
                if self.on_start:
                    self.on_start()
                self.until = time.monotonic() + self.seconds
                self._all_in.notify_all()
            while self._left > 0:
                self._all_in.wait()


def session_loop(url: str, index: int, start: Start, pages_each: int | None = None,
                 think: float = 0.0, app_pid: int | None = None) -> Tally:
    """Log in, then visit the pages in turn for `start.seconds` (or `pages_each` rounds); page times,
    and with `app_pid` (one session alone) the app process's CPU seconds each render took."""
    cpu = (lambda: cpu_seconds(app_pid)) if app_pid else (lambda: 0.0)  # noqa: E731
    tally, rng, waiting = Tally(), random.Random(index), True
    try:
        # no websocket pings: a browser sends none, and a busy client thread must not count as an error
        with connect(url, subprotocols=["streamlit"], max_size=None, open_timeout=60,
                     ping_interval=None) as ws:
            session = Session(ws)
            with start.login:
                session.log_in(USERS[index % len(USERS)])
            waiting = False
            start.logged_in()
            if think and pages_each is None:  # people do not all click in the same second
                time.sleep(rng.uniform(0, think))
            order = PAGES[index % len(PAGES) :] + PAGES[: index % len(PAGES)]
            rounds = 0
            while time.monotonic() < start.until and (pages_each is None or rounds < pages_each):
                for page in order:
                    if time.monotonic() >= start.until:
                        break
                    try:
                        before = cpu()
                        seconds = session.run(page=page)
                        tally.add(page, seconds, cpu() - before if app_pid else None)
                        if page == "Chat":
                            time.sleep(think)
                            before = cpu()
                            seconds = session.ask(rng.choice(QUESTIONS))
                            tally.add("Chat: answer", seconds, cpu() - before if app_pid else None)
                        time.sleep(think)
                    except PageError as exc:
                        tally.errors.append(f"session {index}: {exc}")
                rounds += 1
    except Exception as exc:  # refused, dropped, a login that failed: the session is over
        tally.errors.append(f"session {index}: {type(exc).__name__}: {exc}")
    if waiting:
        start.logged_in()
    return tally


def concurrent(url: str, sessions: int, seconds: float, think: float, on_start=None) -> tuple[Tally, float]:
    """All sessions at once; their page times and the seconds from the start of the load."""
    start, results = Start(sessions, seconds, on_start), [Tally() for _ in range(sessions)]

    def work(i: int) -> None:
        results[i] = session_loop(url, i, start, think=think)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = Tally()
    for result in results:
        total.merge(result)
    return total, time.monotonic() - (start.until - seconds)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_home(home: Path, env: dict) -> None:
    started = time.perf_counter()
    for args in (["init"], ["demo"]):
        subprocess.run([WORKBENCH, *args], env=env, check=True, stdout=subprocess.DEVNULL)
    print(f"demo data home built in {time.perf_counter() - started:.0f} s: {home}")


def serve(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([WORKBENCH, "serve", "--port", str(port)], env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/_stcore/health", timeout=1)
            return proc, f"ws://127.0.0.1:{port}/_stcore/stream"
        except OSError:
            time.sleep(0.3)
    proc.kill()
    sys.exit("the app did not start: " + log.read_text()[-2000:])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """The process's resident memory in MB."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    line = next(line for line in lines if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}"


def table(rows: dict[str, list[float]], cpu: dict[str, list[float]] | None = None) -> list[str]:
    """p50, p95 and max seconds a page; with `cpu`, the app's mean CPU seconds a render too."""
    lines = [f"{'page':<14} {'renders':>8} {'p50 s':>7} {'p95 s':>7} {'max s':>7}"
             + (f" {'CPU s':>7}" if cpu else "")]
    for page in [*PAGES[:2], "Chat: answer", *PAGES[2:]]:
        values = sorted(rows.get(page, []))
        if values:
            p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
            lines.append(f"{page:<14} {len(values):>8} {statistics.median(values):>7.2f} {p95:>7.2f}"
                         f" {values[-1]:>7.2f}" + (f" {statistics.mean(cpu[page]):>7.2f}" if cpu else ""))
    return lines


def windows(runs: list[tuple[float, float]], width: float = 10.0) -> list[str]:
    """When the slow renders began: for each `width` seconds of the load, the renders that began in
    it, their p50 and their slowest."""
    if not runs:
        return []
    first = min(began for began, _s in runs)
    by: dict[int, list[float]] = {}
    for began, seconds in runs:
        by.setdefault(int((began - first) // width), []).append(seconds)
    lines = [f"{'began at s':<12} {'renders':>8} {'p50 s':>7} {'max s':>7}"]
    for i in sorted(by):
        values = sorted(by[i])
        lines.append(f"{f'{i * width:.0f}-{(i + 1) * width:.0f}':<12} {len(values):>8}"
                     f" {statistics.median(values):>7.2f} {values[-1]:>7.2f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--home", type=Path, help="an existing data home with the demo loaded")
    parser.add_argument("--think", type=float, default=0.0, help="seconds a user pauses after each page")
    parser.add_argument("--url", help="drive a running app or load balancer (`workbench team up`) instead")
    parser.add_argument("--pids", default="", help="with --url: the app processes whose CPU is counted")
    args = parser.parse_args()
    if args.url:
        sys.exit(drive(args))
    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp) / "home"
        # Streamlit's file watcher unloads changed modules, mid-run, from every session; this tree is
        # edited while the bench runs, a deployed app's is not
        env = {**os.environ, "WORKBENCH_HOME": str(home), "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}
        if not args.home:
            build_home(home, env)
        proc, url = serve(env, Path(tmp) / "app.log")
        try:
            linger = env.get("WORKBENCH_DB_LINGER_S", "0.25 (default)")
            print(f"machine: {machine()}; load average before: {os.getloadavg()[0]:.2f};"
                  f" WORKBENCH_DB_LINGER_S {linger}")
            print(f"warming up: one session, {BASELINE_RUNS} rounds of {', '.join(PAGES)}")
            warm = session_loop(url, 0, Start(1, 600), pages_each=1)  # first imports, model load
            alone = session_loop(url, 0, Start(1, 600), pages_each=BASELINE_RUNS, app_pid=proc.pid)
            print("baseline, one session alone (CPU s: the app process's CPU time a render):")
            print("\n".join(table(alone.times, alone.cpu)))
            cpu = {}

            def cpu_now() -> tuple[float, float]:
                client = resource.getrusage(resource.RUSAGE_SELF)
                return cpu_seconds(proc.pid), client.ru_utime + client.ru_stime

            memory = rss_mb(proc.pid)
            load, took = concurrent(url, args.sessions, args.seconds, args.think,
                                    lambda: cpu.update(start=cpu_now()))
            app_cpu, client_cpu = (now - then for now, then in zip(cpu_now(), cpu["start"], strict=True))
            renders = sum(len(v) for v in load.times.values())
            print(f"{args.sessions} sessions at once for {args.seconds:.0f} s, {args.think:g} s pause after"
                  f" each page (ran {took:.0f} s with the last pages finishing): {renders} page renders,"
                  f" {renders / took:.1f} per second")
            print("\n".join(table(load.times)))
            print("\n".join(windows(load.runs)))
            print(f"CPU during the load: app {app_cpu:.0f} s, this client {client_cpu:.0f} s, of"
                  f" {took * (os.cpu_count() or 1):.0f} s on all cores; load average after:"
                  f" {os.getloadavg()[0]:.2f}; app memory {memory:,.0f} MB before the load,"
                  f" {rss_mb(proc.pid):,.0f} MB after")
            errors = warm.errors + alone.errors + load.errors
            print(f"errors: {len(errors)}")
            for line in errors[:20]:
                print("  " + line)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a hung app does not stop on SIGTERM
                proc.kill()
                proc.wait()
    if errors:
        sys.exit(1)


def drive(args) -> int:
    """The same load on a running deployment (several app processes behind a load balancer)."""
    pids = [int(p) for p in args.pids.split(",") if p]
    args.url = args.url.replace("http", "ws", 1).rstrip("/") + "/_stcore/stream"

    def app_cpu() -> float:
        return sum(cpu_seconds(pid) for pid in pids)

    print(f"machine: {machine()}; load average before: {os.getloadavg()[0]:.2f}; {args.url},"
          f" {len(pids)} app processes counted")
    warm = session_loop(args.url, 0, Start(1, 600), pages_each=1)
    alone = session_loop(args.url, 0, Start(1, 600), pages_each=BASELINE_RUNS)
    print("baseline, one session alone:")
    print("\n".join(table(alone.times)))
    before = app_cpu()
    load, took = concurrent(args.url, args.sessions, args.seconds, args.think)
    renders = sum(len(v) for v in load.times.values())
    print(f"{args.sessions} sessions at once for {args.seconds:.0f} s, {args.think:g} s pause after each"
          f" page (ran {took:.0f} s): {renders} page renders, {renders / took:.1f} per second")
    print("\n".join(table(load.times)))
    print("\n".join(windows(load.runs)))
    cores = took * (os.cpu_count() or 1)
    print(f"CPU during the load: app processes {app_cpu() - before:.0f} s of {cores:.0f} s on all cores;"
          f" load average after: {os.getloadavg()[0]:.2f}")
    errors = warm.errors + alone.errors + load.errors
    print(f"errors: {len(errors)}")
    for line in errors[:20]:
        print("  " + line)
    return 1 if errors else 0


if __name__ == "__main__":
    main()

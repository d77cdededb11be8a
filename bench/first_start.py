"""First start on a new data home, as `make run` does it after the install:
`workbench demo --if-empty --background`, then `workbench serve`, with the real embedding model.

    python bench/first_start.py

Prints the seconds from the first command until the app answers its health check, until a user
is logged in and sees the Home page (Chromium, as in the browser tests), and until the background
embedding has finished (the banner's end). Pass --foreground to time the old way for comparison:
`workbench demo --if-empty` embedding everything before the app starts.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wb(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, "-m", "workbench", *args], env=env, check=True,
                   capture_output=True)


def main() -> None:
    foreground = "--foreground" in sys.argv
    home = Path(tempfile.mkdtemp(prefix="wb-first-"))
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    env.pop("WORKBENCH_EMBEDDING_BACKEND", None)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    if foreground:  # the old `make run`: init, demo (embedding everything), serve
        wb("init", env=env)
    wb("demo", "--if-empty", *([] if foreground else ["--background"]), env=env)
    demo_done = time.perf_counter() - started
    server = subprocess.Popen([sys.executable, "-m", "workbench", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        healthy = time.perf_counter() - started
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.goto(url)
            page.get_by_label("Username", exact=True).fill("anna")
            page.get_by_label("Password", exact=True).fill("workbench-demo")
            page.get_by_role("button", name="Log in").click()
            page.get_by_test_id("stMetric").first.wait_for(timeout=120_000)
            logged_in = time.perf_counter() - started
            banner = page.get_by_text("Embedding the data in the background").count() > 0
            browser.close()
        status_file = home / "cache" / "indexing.json"
        while not foreground:
            state = json.loads(status_file.read_text()).get("state") if status_file.exists() else None
            if state in ("done", "failed"):
                break
            time.sleep(0.5)
        indexed = time.perf_counter() - started
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()
    way = "foreground (embed, then serve)" if foreground else "background (serve while embedding)"
    print(f"first start, {way}, data home {home}")
    print(f"  demo returned             {demo_done:6.1f} s")
    print(f"  app healthy               {healthy:6.1f} s")
    print(f"  logged in, Home shown     {logged_in:6.1f} s" + ("  (banner: embedding)" if banner else ""))
    if not foreground:
        print(f"  background embedding done {indexed:6.1f} s")


if __name__ == "__main__":
    main()

"""Save docs/img/sandbox.png: a fresh `chatops serve` on SQLite in sandbox mode, the sample replay
played in headless Chromium (Debian's `chromium`, driven by Playwright), then one screenshot.

    .venv/bin/python docs/tools/sandbox_screenshot.py [--lang en|ja] [--out docs/img/sandbox.png]

`CHATOPS_CHROMIUM` points at another Chromium binary.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHATOPS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox(workdir: Path, port: int) -> subprocess.Popen:
    """`chatops serve` without Slack credentials (so: the sandbox) on a database of its own."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("SLACK_", "CHATOPS_", "TEAMS_"))}
    env.update(CHATOPS_DATABASE_URL=f"sqlite:///{workdir / 'sandbox.db'}", CHATOPS_RULES=str(ROOT / "rules.yaml"),
               SLACK_POST_INTERVAL="0.05")
    log = open(workdir / "serve.log", "w")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([sys.executable, "-m", "chatops", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("chatops serve did not start:\n" + (workdir / "serve.log").read_text()[-3000:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=["en", "ja"], default="en")
    parser.add_argument("--count", type=int, default=8, help="sample messages to replay (default 8)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "img" / "sandbox.png"))
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"no Chromium at {CHROMIUM}; install Debian's chromium or set CHATOPS_CHROMIUM", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="chatops-shot-") as tmp:
        port = free_port()
        proc = start_sandbox(Path(tmp), port)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.set_default_timeout(60_000)
                page.goto(f"http://127.0.0.1:{port}/sandbox?lang={args.lang}&autoplay=0")
                page.wait_for_selector("#live:has-text('live')")
                page.fill("#replay-count", str(args.count))
                page.select_option("#replay-speed", "20")
                page.click("#replay")
                page.wait_for_selector(f"#replay-status:has-text('{args.count}')")
                page.wait_for_selector(".msg[data-ticket='T-3']")
                time.sleep(2)  # the last thread lines are paced by the channel's outbox lane
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=args.out)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Take the README's screenshots from a running demo database.

Logs in as the admin user over HTTP, then drives Debian's headless Chromium
through the DevTools protocol (the same way Odoo's browser tests do) to open
each page and save a PNG under docs/screenshots/. Run it while `make demo`
is serving:

    python3 tools/screenshots.py --url http://127.0.0.1:8069 --db integration_demo
"""

import argparse
import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import websocket

ROOT = Path(__file__).resolve().parent.parent
PAGES = {
    "exception-queue.png": "/odoo/action-integration_audit.action_integration_exception",
    "sync-jobs.png": "/odoo/action-integration_audit.action_integration_sync_job",
    "dashboard.png": "/odoo/action-billing_sync.action_billing_dashboard",
}
WIDTH, HEIGHT = 1440, 900


def login(url, db, login_name, password):
    """Return the session id of a fresh login."""
    session = requests.Session()
    response = session.post(
        f"{url}/web/session/authenticate",
        json={"params": {"db": db, "login": login_name, "password": password}},
        timeout=30,
    )
    response.raise_for_status()
    if response.json().get("error"):
        raise SystemExit(f"Login as {login_name} failed: {response.json()['error']}")
    return session.cookies["session_id"]


class Browser:
    """Headless Chromium driven over its DevTools websocket."""

    def __init__(self):
        executable = shutil.which("chromium") or shutil.which("chromium-browser")
        if not executable:
            raise SystemExit("Chromium is missing: install Debian's chromium package.")
        self.profile = tempfile.mkdtemp(prefix="screenshots_")
        self.process = subprocess.Popen(
            [
                executable,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                f"--window-size={WIDTH},{HEIGHT}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.socket = websocket.create_connection(self._page_socket_url(), timeout=60)
        self.next_id = 0

    def _page_socket_url(self):
        port_file = Path(self.profile) / "DevToolsActivePort"
        for _attempt in range(100):
            if port_file.exists() and port_file.read_text().strip():
                port = port_file.read_text().split()[0]
                pages = requests.get(f"http://127.0.0.1:{port}/json", timeout=10).json()
                return next(
                    p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page"
                )
            time.sleep(0.1)
        raise SystemExit("Chromium did not open its DevTools port.")

    def send(self, method, **params):
        self.next_id += 1
        self.socket.send(
            json.dumps({"id": self.next_id, "method": method, "params": params})
        )
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {})

    def screenshot(self, url, path, settle_seconds=4):
        self.send("Page.navigate", url=url)
        time.sleep(settle_seconds)
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self):
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8069")
    parser.add_argument("--db", default="integration_demo")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args()

    session_id = login(args.url, args.db, args.login, args.password)
    browser = Browser()
    try:
        browser.send("Page.enable")
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        host = args.url.split("://", 1)[1].split(":")[0].split("/")[0]
        browser.send(
            "Network.setCookie",
            name="session_id",
            value=session_id,
            domain=host,
            path="/",
        )
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, page in PAGES.items():
            browser.screenshot(f"{args.url}{page}", out / name)
            print(f"saved {out / name}")
    finally:
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

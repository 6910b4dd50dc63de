"""Take the README's screenshots from a running demo database.

Logs in over HTTP, then drives Debian's headless Chromium through the
DevTools protocol (as Odoo's browser tests do) to open each page and save a
PNG under docs/screenshots/. Each page is taken as the user the README
sends there: the demo's finance user for the exception queue and the
dashboard. Run it while `make demo` is serving:

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
from urllib.parse import urlsplit

import requests
import websocket

ROOT = Path(__file__).resolve().parent.parent
# PNG name: (user, page path, CSS selector that shows the page has its data).
# The user is "finance" or "admin", whose logins the command line sets.
PAGES = {
    "exception-queue.png": (
        "finance",
        "/odoo/action-integration_audit.action_integration_exception?view_type=list",
        ".o_list_view .o_data_row",
    ),
    "dashboard.png": (
        "finance",
        "/odoo/action-billing_sync.action_billing_dashboard",
        ".o_view_controller .o_content",
    ),
}
WIDTH, HEIGHT = 1440, 900
# Seconds a page may take to show its data on a busy machine.
PAGE_TIMEOUT = 60
# Odoo animates and loads fonts after the data arrives.
SETTLE_SECONDS = 2


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
        command = [
            executable,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-port=0",
            f"--user-data-dir={self.profile}",
            f"--window-size={WIDTH},{HEIGHT}",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.socket = websocket.create_connection(self._page_socket_url(), timeout=60)
        self.next_id = 0

    def _page_socket_url(self):
        port_file = Path(self.profile) / "DevToolsActivePort"
        for _attempt in range(300):
            if port_file.exists() and port_file.read_text().strip():
                port = port_file.read_text().split()[0]
                pages = requests.get(f"http://127.0.0.1:{port}/json", timeout=10)
                return next(
                    page["webSocketDebuggerUrl"]
                    for page in pages.json()
                    if page["type"] == "page"
                )
            time.sleep(0.1)
        raise SystemExit("Chromium did not open its DevTools port within 30 s.")

    def send(self, method, **params):
        """Call a DevTools method and return its result."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        self.socket.send(json.dumps(message))
        while True:
            answer = json.loads(self.socket.recv())
            if answer.get("id") == self.next_id:
                return answer.get("result", {})

    def wait_for(self, selector, timeout=PAGE_TIMEOUT):
        """Wait until `selector` matches and Odoo shows no loading indicator."""
        script = (
            f"!!document.querySelector({json.dumps(selector)}) && "
            "!document.querySelector('.o_loading_indicator, .o_blockUI')"
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.send("Runtime.evaluate", expression=script)
            if result.get("result", {}).get("value"):
                return True
            time.sleep(0.5)
        return False

    def screenshot(self, url, selector, path):
        """Open `url`, wait for its data and save the page as a PNG."""
        self.send("Page.navigate", url=url)
        if not self.wait_for(selector):
            print(f"warning: {url} did not show {selector} within {PAGE_TIMEOUT} s")
        time.sleep(SETTLE_SECONDS)
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self):
        """Close the DevTools connection, stop Chromium, remove its profile."""
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    """Log in, then save a PNG of each page of PAGES."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8069")
    parser.add_argument("--db", default="integration_demo")
    parser.add_argument("--finance-login", default="finance")
    parser.add_argument("--finance-password", default="finance")
    parser.add_argument("--admin-login", default="admin")
    parser.add_argument("--admin-password", default="admin")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args()

    credentials = {
        "finance": (args.finance_login, args.finance_password),
        "admin": (args.admin_login, args.admin_password),
    }
    sessions = {
        user: login(args.url, args.db, *credentials[user])
        for user in {page[0] for page in PAGES.values()}
    }
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
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, (user, page, selector) in PAGES.items():
            browser.send(
                "Network.setCookie",
                name="session_id",
                value=sessions[user],
                domain=urlsplit(args.url).hostname,
                path="/",
            )
            browser.screenshot(f"{args.url}{page}", selector, out / name)
            print(f"saved {out / name}")
    finally:
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

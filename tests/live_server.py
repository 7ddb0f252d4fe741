"""A real gunicorn server with several workers on the test database, for tests of
what only real concurrency shows: real HTTP on 127.0.0.1, bounded in count and time."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import PASSWORDS, TEST_PASSWORD_HASH

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port: int, method: str, path: str, body=None, timeout: float = 30, token=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection.request(method, path, payload, headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None
    finally:
        connection.close()


class Gunicorn:
    def __init__(self, app, tmp_path):
        self.port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "VPP_INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "live-server-test",
            "PASSWORD_HASH_METHOD": TEST_PASSWORD_HASH,
        }
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(WORKERS),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,  # its own process group: one kill reaches every worker
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if request(self.port, "GET", "/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        pytest.fail("gunicorn did not start within 30 s")

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


class FlaskProcess:
    """A `flask ...` command as a process of its own on the test's database (a worker,
    a listener, a simulator), in its own process group; what it prints is kept in
    ``tmp_path / NAME.log`` and shown when a test fails."""

    def __init__(self, app, tmp_path: Path, name: str, *args: str, env: dict | None = None):
        self.log = tmp_path / f"{name}.log"
        environment = {
            **os.environ,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "VPP_INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "process-test",
            "VPP_STALE_AFTER_S": str(app.config["VPP_STALE_AFTER_S"]),
            **(env or {}),
        }
        with self.log.open("wb") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", *args],
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self, number=signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, number)
            self.process.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def run_clients(count: int, work) -> list:
    results = [[] for _ in range(count)]
    threads = [threading.Thread(target=work, args=(i, results[i])) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return [item for part in results for item in part]


class Browser:
    """A person at a browser: a cookie jar, logging in through the real login form
    (CSRF token and all) of a running server."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.http = requests.Session()

    def url(self, path: str) -> str:
        return self.base + path

    def csrf_token(self, path: str = "/login") -> str:
        page = self.http.get(self.url(path), timeout=30).text
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    def login(self, username: str, password: str | None = None) -> requests.Response:
        token = self.csrf_token("/login")
        return self.http.post(
            self.url("/login"),
            data={
                "username": username,
                "password": password or PASSWORDS[username],
                "csrf_token": token,
            },
            allow_redirects=False,
            timeout=30,
        )

    def post_form(self, path: str, data: dict, token: str) -> requests.Response:
        return self.http.post(
            self.url(path), data={**data, "csrf_token": token}, allow_redirects=False, timeout=30
        )

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.url(path), allow_redirects=False, timeout=30)

    def cookies(self) -> dict:
        return self.http.cookies.get_dict()

    def replay(self, cookies: dict, method: str, path: str, **kwargs) -> requests.Response:
        """The same request from someone who kept a copy of the cookies."""
        return requests.request(
            method, self.url(path), cookies=cookies, allow_redirects=False, timeout=30, **kwargs
        )

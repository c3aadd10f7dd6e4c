"""A real ASGI server (Daphne: HTTP and websockets) and other processes, for browser tests.

pytest-django's live server speaks WSGI only, so pages with websockets are served by
`daphne pam.asgi:application` in a subprocess, on the test database and the test's Redis
(channel layer), with the test process's settings environment.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env() -> dict:
    """The environment of a child process that shares this test's database and Redis."""
    db = settings.DATABASES["default"]
    url = urlparse(os.environ["DATABASE_URL"])
    database_url = urlunparse(url._replace(path=f"/{db['NAME']}"))
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.browser.live_settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": "",  # eager: an event is dispatched when its transaction commits
        "PYTHONPATH": str(ROOT),
        "DJANGO_ALLOW_ASYNC_UNSAFE": "",
    }


@contextmanager
def asgi_server():
    """Start daphne on a free port; yield its base URL; stop it."""
    port = _free_port()
    # A file, not a pipe: nobody reads the server's log while it runs, and a full pipe
    # would stop it.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "pam.asgi:application"],
            cwd=ROOT,
            env=child_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        try:
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        output = log.read().decode(errors="replace")
                        raise RuntimeError(f"daphne did not start:\n{output[-4000:]}") from None
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_script(module: str, *args: str) -> subprocess.Popen:
    """Start `python -m <module> args...` as another process on the test's database."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

"""Benchmark-only settings: pam.settings with Django's psycopg connection pool (a what-if).

Under an ASGI server Django runs each request's sync view in a thread of its own, so its
thread-local connection is new for every request (CONN_MAX_AGE cannot keep it). A pool
(Django 5.1+, needs psycopg-pool) hands the thread an open connection instead.
`benchmarks/wallet.py --servers uvicorn-pool` runs the server with these settings.
"""

from pam.settings import *  # noqa: F403
from pam.settings import DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django refuses persistent connections with a pool
DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 4, "max_size": 16, "timeout": 10}

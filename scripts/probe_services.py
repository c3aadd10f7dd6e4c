"""Exit 0 when PostgreSQL and Redis answer at the given URLs; say what is missing otherwise."""

import sys
from urllib.parse import urlparse, urlunparse

import psycopg
import redis


def main(database_url: str, redis_url: str) -> int:
    missing = []
    # The suite creates its own test database, so the server is what must answer: connect
    # to its maintenance database, not to the (possibly absent) one named in the URL.
    server = urlunparse(urlparse(database_url)._replace(scheme="postgresql", path="/postgres"))
    try:
        with psycopg.connect(server, connect_timeout=3):
            pass
    except psycopg.Error as exc:
        missing.append(f"PostgreSQL at {database_url}: {str(exc).strip().splitlines()[0]}")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        missing.append(f"Redis at {redis_url}: {exc}")
    for line in missing:
        sys.stderr.write(f"  unreachable: {line}\n")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

"""What the benchmarks share: a database of their own, made anew and dropped."""


def libpq_conninfo(url: str) -> str:
    """postgres://user@host:port/db -> a libpq conninfo string (psycopg accepts URLs too)."""
    return url.replace("postgres://", "postgresql://", 1)


def database_recreate(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing a database name like {name!r}")
    with psycopg.connect(libpq_conninfo(base + "/postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_drop(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(libpq_conninfo(base + "/postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

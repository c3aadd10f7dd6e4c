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


def environment_set(database_url: str, **extra: str) -> None:
    """Production-like settings for a benchmark process (DEBUG off, its own database,
    plain HTTP on 127.0.0.1), Celery eager unless `extra` names a broker; `extra` adds or
    overrides variables."""
    import os
    import warnings

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "pam.settings",
            "PAM_IGNORE_DOTENV": "1",
            "DEBUG": "false",
            "SECRET_KEY": "benchmark-only-secret-key-" + "x" * 40,
            "DATABASE_URL": database_url,
            "DATABASE_CONN_MAX_AGE": "60",  # as .env.example: persistent connections
            "REDIS_URL": "",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "LOG_LEVEL": "WARNING",
            # Measurements of throughput, not of the doors' limits: no rate limit cuts a run
            # short, and the provider callbacks come from 127.0.0.1 with no allowlist.
            "RATE_LIMITS_ENABLED": "false",
            "IP_PROVIDER_ALLOWLIST_REQUIRED": "false",
            **extra,
        }
    )
    if "CELERY_BROKER_URL" not in extra:
        os.environ.pop("CELERY_BROKER_URL", None)  # eager: events dispatched in-process
    # No collectstatic for a benchmark: whitenoise's note about the missing directory is noise.
    warnings.filterwarnings("ignore", message="No directory at")


def staff_sign_in(client, user) -> None:
    """Sign `user` in on a test client as the verify page would leave the session: signed in,
    with an accepted second-factor code (a confirmed device made for the benchmark)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(user=user, name="bench", defaults={"confirmed": True})
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()

"""Settings: production refuses to start with the development secret; secrets can come from files."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from pam.settings import BASE_DIR, env_secret

REFUSAL = "SECRET_KEY is the development default while DEBUG is off"


def manage(*args: str, **environ: str) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh process whose environment holds only these variables (and PATH)."""
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "pam.settings",
        # A developer's local .env must not feed the values these tests leave unset.
        "PAM_IGNORE_DOTENV": "1",
        **environ,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_without_a_secret_key_refuses_to_start():
    result = manage("check", DEBUG="false")

    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr
    assert REFUSAL in result.stderr
    assert "System check identified" not in result.stdout


def test_production_with_the_development_key_set_explicitly_refuses_to_start():
    from pam.settings import INSECURE_SECRET_KEY

    result = manage("check", DEBUG="false", SECRET_KEY=INSECURE_SECRET_KEY)

    assert result.returncode != 0
    assert REFUSAL in result.stderr


def test_development_starts_without_a_secret_key():
    result = manage("check", DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_starts_with_a_secret_key_file(tmp_path):
    # given: a Docker/Kubernetes-style secret file, with the trailing newline editors add
    secret_file = tmp_path / "secret_key"
    secret_file.write_text("a-long-random-production-secret-from-a-file\n", encoding="utf-8")

    # when
    checked = manage("check", DEBUG="false", SECRET_KEY_FILE=str(secret_file))
    shown = manage(
        "shell",
        "--verbosity=0",
        "-c",
        "from django.conf import settings; print(repr(settings.SECRET_KEY))",
        DEBUG="false",
        SECRET_KEY_FILE=str(secret_file),
    )

    # then
    assert checked.returncode == 0, checked.stderr
    assert "System check identified no issues" in checked.stdout
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "'a-long-random-production-secret-from-a-file'"


def test_a_secret_key_file_that_cannot_be_read_refuses_to_start(tmp_path):
    missing = tmp_path / "nowhere" / "secret_key"

    result = manage("check", DEBUG="false", SECRET_KEY_FILE=str(missing))

    assert result.returncode != 0
    assert f"SECRET_KEY_FILE='{missing}' cannot be read" in result.stderr


def test_env_secret_prefers_the_file_and_falls_back_to_the_variable(monkeypatch, tmp_path):
    secret_file = tmp_path / "token"
    secret_file.write_text("  from-the-file \n", encoding="utf-8")
    monkeypatch.setenv("PAM_TEST_TOKEN", "from-the-variable")

    assert env_secret("PAM_TEST_TOKEN") == "from-the-variable"

    monkeypatch.setenv("PAM_TEST_TOKEN_FILE", str(secret_file))
    assert env_secret("PAM_TEST_TOKEN") == "from-the-file"

    monkeypatch.setenv("PAM_TEST_TOKEN_FILE", str(Path(tmp_path, "missing")))
    with pytest.raises(ImproperlyConfigured, match="PAM_TEST_TOKEN_FILE=.* cannot be read"):
        env_secret("PAM_TEST_TOKEN")

    monkeypatch.delenv("PAM_TEST_TOKEN_FILE")
    monkeypatch.delenv("PAM_TEST_TOKEN")
    assert env_secret("PAM_TEST_TOKEN", default="fallback") == "fallback"


def _database_options(**environ: str) -> str:
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; o = settings.DATABASES['default'].get('OPTIONS', {});"
        " print(o.get('server_side_binding'), o.get('prepare_threshold'))",
        DEBUG="true",
        DATABASE_URL="postgres://pam@127.0.0.1:5432/pam",
        **environ,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]  # after the shell's own banner


def test_postgresql_binds_server_side_and_prepares_repeated_statements_by_default():
    assert _database_options() == "True 5"
    assert _database_options(DATABASE_PREPARE_THRESHOLD="10") == "True 10"


def test_behind_a_pooler_binding_and_preparing_can_be_switched_off():
    assert _database_options(DATABASE_SERVER_SIDE_BINDING="false") == "None None"

# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --disable-pip-version-check

# Tests run on PostgreSQL and Redis; these are the defaults on a developer machine and CI.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pam
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
PYTEST_ARGS ?= -n 2

# The test settings: production-like (DEBUG off), with a throwaway secret.
TEST_ENV := DEBUG=false SECRET_KEY=test-only-secret-key-not-for-production SECURE_SSL_REDIRECT=false \
	SESSION_COOKIE_SECURE=false CSRF_COOKIE_SECURE=false

.PHONY: run test lint migrations-check lock benchmark benchmark-wallet benchmark-exclusions benchmark-timeline benchmark-rules benchmark-realtime clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(PIP) -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PIP) -r requirements.txt -r requirements-dev.txt
	@touch $@

## run: the product on its embedded default (SQLite, eager Celery, in-memory channels) with demo data
run: $(VENV)/.runtime
	DEBUG=true $(BIN)/python manage.py migrate --noinput
	DEBUG=true $(BIN)/python manage.py seed_demo
	@# The fake GAMSTOP and Spelpaus registers the demo GB and SE brands ask; stopped with the server.
	DEBUG=true $(BIN)/python manage.py fake_registers & FAKES=$$!; \
		trap 'kill $$FAKES 2>/dev/null' EXIT INT TERM; \
		DEBUG=true $(BIN)/python manage.py runserver 127.0.0.1:8000

## test: lint, migrations check, and the whole suite on PostgreSQL + Redis
test: lint migrations-check
	@if $(BIN)/python scripts/probe_services.py "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"; then \
		echo "Running the suite on PostgreSQL ($(TEST_DATABASE_URL)) and Redis ($(TEST_REDIS_URL))"; \
		$(TEST_ENV) DATABASE_URL="$(TEST_DATABASE_URL)" REDIS_URL="$(TEST_REDIS_URL)" \
			$(BIN)/pytest $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then \
		echo "FAIL: PostgreSQL and Redis are required in CI (see above)."; exit 1; \
	else \
		echo ""; \
		echo "################################################################################"; \
		echo "#  WARNING: PostgreSQL and/or Redis unreachable (see above).                     #"; \
		echo "#  Running on SQLite WITHOUT the concurrency, locking and Redis tests.           #"; \
		echo "#  This is NOT the test run CI does. Start the services and run make test again. #"; \
		echo "################################################################################"; \
		echo ""; \
		$(TEST_ENV) DATABASE_URL="sqlite:///$(CURDIR)/.test.sqlite3" REDIS_URL= PAM_TESTS_WITHOUT_SERVICES=1 \
			$(BIN)/pytest $(PYTEST_ARGS); \
	fi

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

migrations-check: $(VENV)/.dev
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run

## benchmark-wallet: raw SQL vs wallet service vs Hub88 over HTTP, on PostgreSQL (a few minutes; see benchmarks/README.md)
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pam_bench
BENCH_BROKER_URL ?= redis://127.0.0.1:6379/15
BENCH_ARGS ?=
$(VENV)/.bench: benchmarks/requirements.txt $(VENV)/.runtime
	$(PIP) -r benchmarks/requirements.txt
	@touch $@

benchmark-wallet: $(VENV)/.bench
	$(BIN)/python benchmarks/wallet.py --database-url "$(BENCH_DATABASE_URL)" --broker-url "$(BENCH_BROKER_URL)" $(BENCH_ARGS)

## benchmark-exclusions: the daily GAMSTOP re-check of 10k, 50k and 100k players against the fake batch server (players/s, peak memory)
BENCH_EXCLUSIONS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pam_bench_exclusions
benchmark-exclusions: $(VENV)/.runtime
	$(BIN)/python benchmarks/exclusions.py --database-url "$(BENCH_EXCLUSIONS_DATABASE_URL)" $(BENCH_ARGS)

## benchmark-timeline: one player's timeline pages (newest 50, filters, text search, deep cursor) with 10M timeline rows: p50/p95/p99 (about 20-30 minutes, most of it building indexes; BENCH_ARGS="--keep-db" then "--reuse-db" measures again without the fill)
BENCH_TIMELINE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pam_bench_timeline
benchmark-timeline: $(VENV)/.runtime
	$(BIN)/python benchmarks/timeline.py --database-url "$(BENCH_TIMELINE_DATABASE_URL)" $(BENCH_ARGS)

## benchmark-rules: BeAware, 100 rules: events/s through the engine and the outbox, and backtests over 1M events (about 3 minutes)
BENCH_RULES_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pam_bench_rules
benchmark-rules: $(VENV)/.runtime
	$(BIN)/python benchmarks/rules.py --database-url "$(BENCH_RULES_DATABASE_URL)" $(BENCH_ARGS)

## benchmark-realtime: live dashboards, 200 staff sockets over 5 brands on Daphne + Redis, 500 events/s through the outbox: commit -> socket p50/p99, messages lost (about 1 minute)
BENCH_REALTIME_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pam_bench_realtime
BENCH_REALTIME_REDIS_URL ?= redis://127.0.0.1:6379/14
benchmark-realtime: $(VENV)/.runtime
	$(BIN)/python benchmarks/realtime.py --database-url "$(BENCH_REALTIME_DATABASE_URL)" --redis-url "$(BENCH_REALTIME_REDIS_URL)" $(BENCH_ARGS)

## lock: recompile the pinned requirements from requirements*.in (needs pip-tools)
lock:
	$(BIN)/pip install --quiet pip-tools==7.6.2
	$(BIN)/pip-compile --quiet --strip-extras --no-header --no-emit-index-url --no-emit-find-links \
		--output-file requirements.txt requirements.in
	$(BIN)/pip-compile --quiet --strip-extras --no-header --no-emit-index-url --no-emit-find-links \
		--output-file requirements-dev.txt requirements-dev.in

clean:
	rm -rf $(VENV) db.sqlite3 .test.sqlite3 staticfiles

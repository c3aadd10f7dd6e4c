"""Settings for the PAM back-office: one module, everything from the environment.

With nothing set, the product runs on its embedded default: a SQLite file, Celery tasks run
eagerly in-process, an in-memory channel layer and a local-memory cache. Setting
DATABASE_URL, REDIS_URL and CELERY_BROKER_URL moves it onto PostgreSQL, Redis and a real
broker. `.env.example` lists every variable read here.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env file is a convenience for developers; real deployments set the environment.
if (BASE_DIR / ".env").is_file() and not env.bool("PAM_IGNORE_DOTENV", default=False):
    env.read_env(BASE_DIR / ".env")


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read a secret from NAME, or from the file named by NAME_FILE (Docker/K8s secrets)."""
    file_path = env.str(f"{name}_FILE", default="")
    if file_path:
        try:
            return Path(file_path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path!r} cannot be read: {exc}") from exc
    return env.str(name, default=default)


# A sentinel, not a secret: settings refuse it unless DEBUG is on.
INSECURE_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env_secret("SECRET_KEY", default=INSECURE_SECRET_KEY)
if not DEBUG and SECRET_KEY == INSECURE_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the development default while DEBUG is off. Set SECRET_KEY (or "
        "SECRET_KEY_FILE) to a long random value, or DEBUG=true for local development."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # daphne first: `runserver` then serves HTTP and websockets (ASGI) from one process.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "auditlog",
    "channels",
    # The staff second factor (issue 9): TOTP apps, and single-use recovery codes kept as a
    # static device. Before our apps, so that apps/security/admin.py can take their admin
    # pages away (secrets must never be shown back).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "apps.core",
    "apps.tenants",
    "apps.players",
    "apps.wallet",
    "apps.games",
    "apps.compliance",
    "apps.responsible_gaming",
    "apps.payments",
    "apps.exclusions",
    "apps.timeline",
    "apps.rules",
    "apps.dashboards",
    "apps.observability",
    "apps.security",
]

MIDDLEWARE = [
    # First: it times the whole answer. (With tracing on, OpenTelemetry's middleware is put
    # before it at startup, so the request's span is open for everything below.)
    "apps.observability.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "apps.security.headers.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.core.middleware.CorrelationIdMiddleware",
    # IP lists (apps/security/ipfilter.py): a refused address reaches no view, no session.
    "apps.security.middleware.IpFilterMiddleware",
    # A memo per request (the brands a staff user sees, asked by several parts of a page).
    "apps.core.middleware.RequestCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): the session's second factor (django-otp).
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Staff sessions: idle and absolute timeouts, and the admin's second-factor gate
    # (apps/security/staff_session.py; the staff API's is its authentication class).
    "apps.security.staff_session.StaffSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # auditlog's middleware with the IP lists' client address, keeping the request for the
    # access audit (apps/security/audit.py).
    "apps.security.audit.AuditContextMiddleware",
    # The admin's rate limits (per staff user, and per address on its login); the APIs'
    # are DRF throttles, the provider doors' are checked once the caller is authenticated.
    "apps.security.ratelimit.AdminRateLimitMiddleware",
    # Writes the refusals (breach attempts) the wallet guard noted, after their rollback.
    "apps.responsible_gaming.refusals.RefusalRecorderMiddleware",
    # axes last, as its documentation asks: it turns lockouts into a response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "pam.urls"
WSGI_APPLICATION = "pam.wsgi.application"
ASGI_APPLICATION = "pam.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.tenants.context_processors.staff_scope",
            ],
        },
    },
]

# --- Data stores -----------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
_on_postgres = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if _on_postgres and env.bool("DATABASE_POOL", default=False):
    # Under ASGI each request runs in a fresh thread context, and without a pool Django
    # opens a PostgreSQL connection per request (measured: 100 requests, 100 sessions).
    # Pooling requires CONN_MAX_AGE 0: the pool keeps the connections instead.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
    }
if _on_postgres and env.bool("DATABASE_SERVER_SIDE_BINDING", default=True):
    # Parameters travel apart from the SQL, so psycopg prepares a statement the fifth time
    # a connection runs it: the wallet's statements then skip PostgreSQL's parse and plan
    # (0.5 ms for the movement UPDATE). Set false behind a transaction-mode pooler that
    # cannot keep prepared statements: Django's default then, nothing prepared.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=env.int("DATABASE_PREPARE_THRESHOLD", default=5)
    )
if _on_postgres:
    # Fail a connection attempt after this long instead of hanging on an unreachable host
    # (requests, workers and the readiness check alike).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for the write lock instead of failing at once: the embedded default serves
    # HTTP, websockets and eager tasks from one process with several threads.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="pam"),
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # A group message for the sockets of one ASGI process is one Redis entry in that
            # process's queue, and channels_redis silently drops what arrives beyond
            # `capacity` (default 100) pending there, for all its sockets together; a
            # precaution for a process that falls behind a burst (no loss was measured at
            # 100 in benchmarks/realtime.py, where the backlog stayed in the server's own
            # buffers, which the same number bounds per socket).
            # socket_timeout above channels_redis's 5-second blocking pop (BZPOPMIN ... 5): with
            # redis-py's default of 5 s the read timed out as the pop returned, and after 5
            # quiet seconds the consumer running the process's receive loop died (1011).
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 5}],
                "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=2000),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# The live operations dashboard: a brand's counters are pushed at most once a tick (the
# busy events are counted, not pushed one by one: apps/dashboards/ticker.py).
DASHBOARD_SNAPSHOT_SECONDS = env.float("DASHBOARD_SNAPSHOT_SECONDS", default=1.0)
# How often an open dashboards socket reads its staff session again (a sign-out, a timeout
# or a second-factor reset closes it within this time, or at the page's next ping).
DASHBOARD_SESSION_RECHECK_SECONDS = env.float("DASHBOARD_SESSION_RECHECK_SECONDS", default=20.0)

# --- Celery ----------------------------------------------------------------------------
# Without a broker, tasks run eagerly in the calling process (the embedded default); the
# in-memory transport is then named only so that nothing looks for a broker on localhost.
CELERY_TASK_ALWAYS_EAGER = not env.str("CELERY_BROKER_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Two queues. "outbox": the delivery of committed events to their handlers (the relay's
# batches, single dispatches, the sweep): short tasks that mostly wait for PostgreSQL, run
# in production by a worker of two threads (`-Q outbox --pool threads --concurrency 2`:
# one thread's Python runs while the other waits). "celery": everything else (backtests,
# register syncs, reconciliations, reports), long or CPU-bound work for a prefork worker.
# A worker started without -Q consumes both (development, the tests' workers).
CELERY_TASK_DEFAULT_QUEUE = "celery"
OUTBOX_QUEUE = "outbox"
# Each bound by its own name: without a routing key both would be bound by "celery".
CELERY_TASK_QUEUES = tuple(
    Queue(name, routing_key=name) for name in (CELERY_TASK_DEFAULT_QUEUE, OUTBOX_QUEUE)
)
CELERY_TASK_ROUTES = {
    "apps.core.tasks.event_dispatch_task": {"queue": OUTBOX_QUEUE},
    "apps.core.tasks.event_dispatch_batch_task": {"queue": OUTBOX_QUEUE},
    "apps.core.tasks.outbox_sweep_task": {"queue": OUTBOX_QUEUE},
}
# Celery workers move their set-up objects out of the garbage collector's reach once
# started (pam/celery.py: gc_freeze_long_lived).
WORKER_GC_FREEZE = env.bool("WORKER_GC_FREEZE", default=True)
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {
        "task": "apps.core.tasks.outbox_sweep_task",
        "schedule": env.float("OUTBOX_SWEEP_INTERVAL_SECONDS", default=60.0),
    },
    "wallet-reconciliation": {
        "task": "apps.wallet.tasks.reconciliation_run_task",
        "schedule": env.float("WALLET_RECONCILIATION_INTERVAL_SECONDS", default=3600.0),
    },
    "rg-limits-apply-due": {
        "task": "apps.responsible_gaming.tasks.limits_apply_due_task",
        "schedule": env.float("RG_LIMITS_APPLY_INTERVAL_SECONDS", default=60.0),
    },
    "rg-totals-reconciliation": {
        "task": "apps.responsible_gaming.tasks.totals_reconcile_task",
        "schedule": env.float("RG_RECONCILIATION_INTERVAL_SECONDS", default=3600.0),
    },
    "payments-review-sla": {
        "task": "apps.payments.tasks.reviews_escalate_overdue_task",
        "schedule": env.float("PAYMENTS_SLA_CHECK_INTERVAL_SECONDS", default=60.0),
    },
    "exclusions-daily-recheck": {
        "task": "apps.exclusions.tasks.batch_tick_task",
        "schedule": env.float("EXCLUSIONS_BATCH_TICK_SECONDS", default=900.0),
    },
    "rules-facts-purge": {
        "task": "apps.rules.tasks.facts_purge_task",
        "schedule": env.float("RULES_FACTS_PURGE_INTERVAL_SECONDS", default=3600.0),
    },
    "timeline-retention": {
        "task": "apps.timeline.tasks.retention_run_task",
        "schedule": env.float("TIMELINE_RETENTION_INTERVAL_SECONDS", default=3600.0),
    },
    "audit-retention": {
        "task": "apps.security.tasks.audit_records_purge_task",
        "schedule": env.float("AUDIT_RETENTION_INTERVAL_SECONDS", default=86400.0),
    },
}

# --- Payments ---------------------------------------------------------------------------
# The payment provider adapters this deployment loads (each registers itself on import).
PAYMENT_PROVIDERS = env.list(
    "PAYMENT_PROVIDERS",
    default=["apps.payments.providers.paymentiq", "apps.payments.providers.manual"],
)

# --- Compliance ------------------------------------------------------------------------
# Directories of jurisdiction packs (one <code>.yaml per jurisdiction); the repository's own
# by default. Every pack is validated at startup.
COMPLIANCE_PACK_DIRS = env.list(
    "COMPLIANCE_PACK_DIRS", default=[str(BASE_DIR / "apps" / "compliance" / "packs")]
)
# How long a process keeps a brand's effective rules (the wallet guard reads them per bet).
COMPLIANCE_RULES_CACHE_SECONDS = env.float("COMPLIANCE_RULES_CACHE_SECONDS", default=30.0)

# --- Domain events ---------------------------------------------------------------------
# An event whose dispatch has not finished this long after it occurred is picked up by the
# sweep (the after-commit dispatch may have been lost with a crashed process or broker).
OUTBOX_SWEEP_GRACE_SECONDS = env.int("OUTBOX_SWEEP_GRACE_SECONDS", default=30)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=12)
OUTBOX_RELAY_INTERVAL_SECONDS = env.float("OUTBOX_RELAY_INTERVAL_SECONDS", default=0.05)

# --- Auth, staff access ----------------------------------------------------------------
AUTH_USER_MODEL = "tenants.StaffUser"
AUTHENTICATION_BACKENDS = [
    # axes first: it refuses a locked-out username/IP before any password is checked.
    # (Tests sign in with force_login(user, backend=ModelBackend): axes' own backend
    # authenticates nobody, so it cannot restore a session user.)
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
# Staff sessions (apps/security/staff_session.py): signed out after this long without a
# request, and this long after signing in whatever the activity.
STAFF_SESSION_IDLE_SECONDS = env.int("STAFF_SESSION_IDLE_SECONDS", default=900)
STAFF_SESSION_MAX_SECONDS = env.int("STAFF_SESSION_MAX_SECONDS", default=12 * 3600)
# Sensitive actions (apps/security/reauth.py: large withdrawal approvals, staff limit
# changes, personal-data exports) need password + second factor given this recently.
STAFF_REAUTH_SECONDS = env.int("STAFF_REAUTH_SECONDS", default=300)
for _name in ("STAFF_SESSION_IDLE_SECONDS", "STAFF_SESSION_MAX_SECONDS", "STAFF_REAUTH_SECONDS"):
    if vars()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1 second.")
# The second factor (django-otp): the name authenticator apps show; secrets never shown in
# the admin (ours has no device pages at all: apps/security/admin.py).
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="PAM back-office")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# No anonymous user row: anonymous visitors have no object permissions at all.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)

# Staff balance adjustments above this many major units of the wallet's currency need a
# second person's approval (four eyes).
WALLET_ADJUSTMENT_FOUR_EYES_ABOVE = env.int("WALLET_ADJUSTMENT_FOUR_EYES_ABOVE", default=500)

# Player API tokens expire; a player logs in again after this many seconds.
PLAYER_TOKEN_TTL_SECONDS = env.int("PLAYER_TOKEN_TTL_SECONDS", default=12 * 3600)

# --- Self-exclusion registers (GAMSTOP, Spelpaus) ----------------------------------------
# A register call is tried at most EXCLUSIONS_RETRIES times (429, 5xx, network errors), with
# exponential backoff from EXCLUSIONS_BACKOFF_SECONDS (or the register's Retry-After), and
# gives up (fails closed) once EXCLUSIONS_RETRY_MAX_SECONDS of waiting would be exceeded.
EXCLUSIONS_RETRIES = env.int("EXCLUSIONS_RETRIES", default=3)
EXCLUSIONS_BACKOFF_SECONDS = env.float("EXCLUSIONS_BACKOFF_SECONDS", default=0.5)
EXCLUSIONS_RETRY_MAX_SECONDS = env.float("EXCLUSIONS_RETRY_MAX_SECONDS", default=10.0)
# Per register and brand: this many failed calls in a row open the circuit; calls then fail
# fast (closed) until EXCLUSIONS_BREAKER_RESET_SECONDS have passed and a trial call succeeds.
EXCLUSIONS_BREAKER_FAILURES = env.int("EXCLUSIONS_BREAKER_FAILURES", default=5)
EXCLUSIONS_BREAKER_RESET_SECONDS = env.float("EXCLUSIONS_BREAKER_RESET_SECONDS", default=60.0)
# A brand whose pack names a register it has no configuration for: "refuse" (fail closed,
# the regulator's answer) or "skip" (log a warning; only for development and demo data).
EXCLUSIONS_UNCONFIGURED = env.str("EXCLUSIONS_UNCONFIGURED", default="skip" if DEBUG else "refuse")
if EXCLUSIONS_UNCONFIGURED not in ("refuse", "skip"):
    raise ImproperlyConfigured("EXCLUSIONS_UNCONFIGURED must be refuse or skip.")
if not DEBUG and EXCLUSIONS_UNCONFIGURED == "skip":
    raise ImproperlyConfigured(
        "EXCLUSIONS_UNCONFIGURED=skip lets players past an unconfigured register; it needs DEBUG=true."
    )
# The daily re-check (apps/exclusions/batch.py): a beat tick every EXCLUSIONS_BATCH_TICK_SECONDS
# works every run in progress and starts a new run per brand and daily register once the
# last one started EXCLUSIONS_BATCH_EVERY_HOURS ago. 20 h + ticks of 15 min + a chunk failed
# closed after 3 failed attempts (ticks) keeps every player's re-check within 24 h.
EXCLUSIONS_BATCH_TICK_SECONDS = env.float("EXCLUSIONS_BATCH_TICK_SECONDS", default=900.0)
EXCLUSIONS_BATCH_EVERY_HOURS = env.float("EXCLUSIONS_BATCH_EVERY_HOURS", default=20.0)
EXCLUSIONS_BATCH_CHUNK_MAX_ATTEMPTS = env.int("EXCLUSIONS_BATCH_CHUNK_MAX_ATTEMPTS", default=3)
EXCLUSIONS_GAMSTOP_BATCH_SIZE = env.int("EXCLUSIONS_GAMSTOP_BATCH_SIZE", default=1000)
EXCLUSIONS_SPELPAUS_CHUNK_SIZE = env.int("EXCLUSIONS_SPELPAUS_CHUNK_SIZE", default=100)
# Players read per page by marketing exports (each page is checked in bulk).
EXCLUSIONS_MARKETING_CHUNK_SIZE = env.int("EXCLUSIONS_MARKETING_CHUNK_SIZE", default=1000)
if not 1 <= EXCLUSIONS_GAMSTOP_BATCH_SIZE <= 1000:
    raise ImproperlyConfigured("EXCLUSIONS_GAMSTOP_BATCH_SIZE must be 1 to 1000 (GAMSTOP's batch limit).")

# --- E-mail ----------------------------------------------------------------------------
# smtp://user:password@host:587 (or smtp+tls://...) in production; printed to the console
# by default. Rule messages to players are sent with it.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@pam.invalid")

# --- BeAware rules ---------------------------------------------------------------------
# How long a worker keeps its compiled rules before reading them again (the process that
# saves a rule drops its copy at once; the others pick the edit up within this time).
RULES_CACHE_SECONDS = env.float("RULES_CACHE_SECONDS", default=5.0)
# A backtest reads at most this many days of events.
RULES_BACKTEST_MAX_DAYS = env.int("RULES_BACKTEST_MAX_DAYS", default=90)

# --- Audit -----------------------------------------------------------------------------
AUDITLOG_CID_GETTER = "apps.core.correlation.correlation_id_get"
AUDITLOG_INCLUDE_ALL_MODELS = False  # models register themselves in their app's ready()
AUDITLOG_MASK_CALLABLE = "apps.core.audit.mask_whole"
# How long access-audit records (logins, personal-data reads, exports, permission changes:
# apps/security/audit.py) are kept. Six years: the AML record keeping of the UK Money
# Laundering Regulations 2017 (reg. 40) and the UKGC's guidance run five years from the end
# of the business relationship or the occasional transaction, and an access record is
# evidence for the records it touched; a sixth year covers the time between an account's
# last activity and the relationship being ended, and matches the six-year limitation
# period for claims (Limitation Act 1980). A licence asking for longer sets it higher.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=6 * 365)
# Rows deleted per transaction by the purge (each batch commits on its own).
AUDIT_PURGE_BATCH_SIZE = env.int("AUDIT_PURGE_BATCH_SIZE", default=5000)

# --- API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # The staff session, with its second factor and timeouts (apps/security/staff_session.py).
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.security.staff_session.StaffSessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.pagination.DefaultCursorPagination",
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "apps.core.api.exceptions.exception_handler",
    # One leaky bucket per player, staff user or (logins) client address: RATE_LIMITS.
    "DEFAULT_THROTTLE_CLASSES": ["apps.security.ratelimit.ApiRateThrottle"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PAM back-office API",
    "DESCRIPTION": "Player and staff APIs of the Player Account Management back-office.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "LimitKindEnum": "apps.responsible_gaming.models.Kind.choices",
        "ExclusionKindEnum": "apps.responsible_gaming.models.ExclusionKind.choices",
        "PaymentKindEnum": "apps.payments.api.serializers.PAYMENT_KINDS",
        "PaymentMethodEnum": "apps.payments.models.Method.choices",
        "PaymentStatusEnum": "apps.payments.models.Status.choices",
        "PlayerPaymentStatusEnum": "apps.payments.api.serializers.PLAYER_STATUSES",
    },
}

# --- Internationalisation, static ------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Production hardening --------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# HSTS: one year once DEBUG is off. Preload (a commitment for every subdomain, hard to undo)
# is on by default, as `check --deploy` asks; a domain not ready for it sets it false.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (apps/security/headers.py). Scripts and styles come only from our
# own static files (no inline script or style anywhere: the admin, templates/ and the API
# docs were checked); connect-src 'self' covers the dashboards' same-origin ws:/wss: sockets
# (CSP level 3) and their catch-up requests; nothing may frame the back-office.
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default="; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    ),
)
CONTENT_SECURITY_POLICY_REPORT_ONLY = env.bool("CONTENT_SECURITY_POLICY_REPORT_ONLY", default=False)

# --- Rate limits -----------------------------------------------------------------------
# Leaky buckets (apps/security/ratelimit.py), one per player on the player API, per staff
# user (admin and staff API), per provider integration (Hub88, PaymentIQ) and per client
# address on logins; in Redis when REDIS_URL is set (shared by every process), else in
# memory. Each "<n>/<s|m|h>[ burst <b>]": n per second, minute or hour sustained, up to b
# at once (default n).
RATE_LIMITS_ENABLED = env.bool("RATE_LIMITS_ENABLED", default=True)


def _rate_limit(name: str, default: str) -> tuple[int, float, int]:
    """(limit, per seconds, burst) from NAME, e.g. "20/s burst 40"."""
    text = env.str(name, default=default)
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    try:
        rate, _, burst = text.strip().partition(" burst ")
        limit, unit = rate.strip().split("/")
        parsed = (int(limit), units[unit.strip()], int(burst) if burst else int(limit))
    except (ValueError, KeyError):
        parsed = None
    if parsed is None or parsed[0] < 1 or parsed[2] < 1:
        raise ImproperlyConfigured(f"{name}={text!r}: expected e.g. 20/s, 10/m or 20/s burst 40.")
    return parsed


RATE_LIMITS = {
    "player": _rate_limit("RATE_LIMIT_PLAYER", "20/s burst 40"),
    "staff": _rate_limit("RATE_LIMIT_STAFF", "10/s burst 20"),
    "provider": _rate_limit("RATE_LIMIT_PROVIDER", "500/s"),
    "login": _rate_limit("RATE_LIMIT_LOGIN", "10/m"),
}
# The client address a login bucket is keyed by is the IP lists' (TRUSTED_PROXIES below).

# --- IP lists (apps/security) ------------------------------------------------------------
# Proxies (CIDRs) whose X-Forwarded-For is believed: when REMOTE_ADDR is one of them, the
# client is the right-most X-Forwarded-For hop that is not. Empty: REMOTE_ADDR is the client.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
try:
    import ipaddress as _ipaddress

    for _proxy in TRUSTED_PROXIES:
        _ipaddress.ip_network(_proxy.strip(), strict=False)
except ValueError as _exc:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_exc}") from _exc
# Each process checks the rules' version key this often (seconds), and re-reads the rules
# at least this often whatever the key says.
IP_RULES_VERSION_CHECK_SECONDS = env.float("IP_RULES_VERSION_CHECK_SECONDS", default=1.0)
IP_RULES_MAX_AGE_SECONDS = env.float("IP_RULES_MAX_AGE_SECONDS", default=300.0)
# A provider integration (Hub88) with no allow entries refuses every caller when on (fail
# closed, the default unless DEBUG). PaymentIQ always has its per-brand allowlist as well.
IP_PROVIDER_ALLOWLIST_REQUIRED = env.bool("IP_PROVIDER_ALLOWLIST_REQUIRED", default=not DEBUG)

# --- Observability ---------------------------------------------------------------------
# Traces (apps/observability/tracing.py): on when OTEL_TRACES_ENABLED, by default exactly
# when spans have somewhere to go. The OTLP/HTTP exporter reads OTEL_EXPORTER_OTLP_* itself
# (e.g. OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4318).
OTEL_EXPORTER_OTLP_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
OTEL_TRACES_ENABLED = env.bool("OTEL_TRACES_ENABLED", default=bool(OTEL_EXPORTER_OTLP_ENDPOINT))
OTEL_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default="pam")
# /metrics answers a scraper sending "Authorization: Bearer <METRICS_TOKEN>" (and signed-in
# superusers); with no token set, only superusers.
METRICS_TOKEN = env_secret("METRICS_TOKEN", default="")
METRICS_QUERY_TIMEOUT_MS = env.int("METRICS_QUERY_TIMEOUT_MS", default=2000)
# /readyz: each dependency (database, Redis, broker) must answer within this many seconds.
READINESS_TIMEOUT_SECONDS = env.float("READINESS_TIMEOUT_SECONDS", default=2.0)

# --- Logging ---------------------------------------------------------------------------
# One JSON object per line (apps/observability/logs.py) unless LOG_FORMAT=plain; plain is
# the default with DEBUG on (`make run`), where a person reads the console.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or plain.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "apps.observability.logs.TraceContextLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [cid=%(correlation_id)s] %(message)s"},
        "json": {"()": "apps.observability.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per task run is noise at INFO; failures still log at WARNING/ERROR.
        "celery.app.trace": {"level": "WARNING"},
        # One line per register request (GAMSTOP, Spelpaus) at INFO; the checks are stored anyway.
        "httpx": {"level": "WARNING"},
    },
}

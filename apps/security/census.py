"""The census of doors (issue 9): every URL and websocket route, and what guards it.

tests/security/test_permission_census.py walks every URL pattern of the project and fails
on one that is not declared here (a new door is closed to review until someone says who
may use it), on a declaration whose URL no longer exists, and on a guarded URL that
answers an anonymous caller with anything but a refusal.

A guard is one of:
- `perm("app.codename")`: a named Django permission (checked by the view, its DRF
  `required_permissions` map or its ModelAdmin `has_*_permission`; brand scoping on top);
- `staff(reason)`: any active staff session (admin_view), nothing more to see than the
  user's own things (the admin index, their own password, their own second factor);

Every staff door (admin pages, staff API, the dashboards' websocket) also needs the
session's second factor (apps/security/staff_session.py) on top of its guard.
- `player(reason)`: the player's own bearer token (IsPlayer), only their own data;
- `signed(reason)`: a provider callback authenticated by its signature, not a session;
- `public(reason)`: open on purpose, with the reason.

The standard pages of every registered ModelAdmin (changelist, add, change, delete,
history and the bare-object redirect) are declared by `admin_model_declarations()`: Django
guards them with the model's view/add/change/delete permissions through the ModelAdmin's
`has_*_permission`. Custom admin URLs (a ModelAdmin's get_urls) are declared by hand.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Guard:
    kind: str  # perm | staff | player | signed | public
    detail: str  # the permission, or the reason

    @property
    def refuses_anonymous(self) -> bool:
        return self.kind in ("perm", "staff", "player")


def perm(name: str) -> Guard:
    return Guard("perm", name)


def staff(reason: str) -> Guard:
    return Guard("staff", reason)


def player(reason: str = "the player's own bearer token; only their own data") -> Guard:
    return Guard("player", reason)


def signed(reason: str) -> Guard:
    return Guard("signed", reason)


def public(reason: str) -> Guard:
    return Guard("public", reason)


HUB88 = signed("Hub88 wallet callback: RSA signature of the body checked (X-Hub88-Signature)")
PAYMENTIQ = signed("PaymentIQ callback: authenticated by the provider's credentials")

# URL name (namespace:name) -> guard. Unnamed patterns are keyed by their full route.
URLS: dict[str, Guard] = {
    # --- admin site --------------------------------------------------------------------
    "admin:index": staff("admin_view: active staff; lists only the apps the user may see"),
    "admin:app_list": staff("admin_view; an app's index lists only the models the user may see"),
    "admin:login": public("staff login (axes lockout, rate limited)"),
    "admin:logout": public("ends the caller's own session (POST only)"),
    "admin:password_change": staff("the staff user's own password"),
    "admin:password_change_done": staff("the staff user's own password"),
    "admin:autocomplete": staff("admin_view; answers only for a model the user may view"),
    "admin:jsi18n": public("the admin's translation catalogue (static text)"),
    "admin:view_on_site": staff("admin_view; redirects to an object's public URL (none here)"),
    "admin/(?P<url>.*)$": staff("admin catch-all: login redirect or 404"),
    # The second factor (apps/security/views.py): the signed-in staff user's own device.
    "security-otp-enrol": staff("the signed-in staff user sets up their own second factor"),
    "security-otp-verify": staff("the signed-in staff user enters their own second-factor code"),
    "security-reauth": staff("the signed-in, verified staff user confirms their own password and code"),
    "admin:auth_user_password_change": perm("tenants.change_staffuser"),
    "admin:compliance_effective_rules": perm("compliance.view_brandrulesversion"),
    "admin:payments_payment_step": perm("payments.view_payment"),  # + the step's own permission
    "admin:payments_payment_record_bank_deposit": perm("payments.record_manual_deposit"),
    "admin:exclusions_registercheck_check_now": perm("exclusions.check_now"),
    "admin:rules_rule_backtest": perm("rules.run_backtest"),
    "admin:dashboards_dashboard_alerts": perm("dashboards.view_dashboard"),
    "admin:dashboards_dashboard_catchup": perm("dashboards.view_dashboard"),  # queue: payments.view_payment
    # --- API docs ----------------------------------------------------------------------
    "api-schema": public("OpenAPI description of the APIs (no data; every operation is guarded)"),
    "api-docs": public("Swagger UI over api-schema, served from our static files"),
    # --- player API --------------------------------------------------------------------
    "player-register": public("player sign-up"),
    "player-login": public("player login"),
    "player-logout": player(),
    "player-profile": player(),
    "player-messages": player(),
    "player-payments": player(),
    "player-withdrawal": player(),
    "player-withdrawal-cancel": player(),
    "player-deposit": player(),
    "rg-overview": player(),
    "rg-limits": player(),
    "rg-limit-cancel": player(),
    "rg-time-out": player(),
    "rg-self-exclusion": player(),
    "rg-reality-check": player(),
    "rg-close-account": player(),
    # --- staff API (DRF `required_permissions`, per action) -----------------------------
    "staff-brand-list": perm("tenants.view_brand"),
    "staff-brand-detail": perm("tenants.view_brand"),
    "staff-player-list": perm("players.view_player"),
    "staff-player-detail": perm("players.view_player"),
    "staff-player-change-status": perm("players.change_player_status"),
    "staff-rg-detail": perm("responsible_gaming.view_limit"),
    "staff-rg-limits": perm("responsible_gaming.set_limits"),
    "staff-rg-limit-cancel": perm("responsible_gaming.set_limits"),
    "staff-rg-self-exclusion": perm("responsible_gaming.set_limits"),
    "staff-rg-time-out": perm("responsible_gaming.set_limits"),
    "staff-marketing-export-list": perm("exclusions.view_marketingexport"),  # POST: export_marketing
    "staff-marketing-export-detail": perm("exclusions.view_marketingexport"),
    "staff-player-timeline": perm("timeline.view_timelineentry"),
    "staff-payment-list": perm("payments.view_payment"),
    "staff-payment-review-queue": perm("payments.view_payment"),
    "staff-payment-detail": perm("payments.view_payment"),
    "staff-payment-approve": perm("payments.approve_payment"),
    "staff-payment-reject": perm("payments.approve_payment"),
    "staff-payment-claim": perm("payments.review_payments"),
    "staff-payment-unclaim": perm("payments.review_payments"),
    "staff-payment-escalate": perm("payments.escalate_payment"),
    "staff-reauth": staff("the signed-in, verified staff user confirms their own password and code"),
    # --- provider callbacks ------------------------------------------------------------
    "hub88:user-info": HUB88,
    "hub88:user-balance": HUB88,
    "hub88:transaction-bet": HUB88,
    "hub88:transaction-win": HUB88,
    "hub88:transaction-rollback": HUB88,
    "paymentiq:verifyuser": PAYMENTIQ,
    "paymentiq:lookupuser": PAYMENTIQ,
    "paymentiq:authorize": PAYMENTIQ,
    "paymentiq:transfer": PAYMENTIQ,
    "paymentiq:cancel": PAYMENTIQ,
    "paymentiq:notification": PAYMENTIQ,
    # --- operations --------------------------------------------------------------------
    "healthz": public("liveness probe: answers {status: ok}, asks nothing"),
    "readyz": public("readiness probe for the orchestrator: dependency up/down, no data"),
    "metrics": Guard("perm", "superuser or Authorization: Bearer METRICS_TOKEN"),
}

# Websocket routes (pam/routing.py) -> the permission of each stream a socket may join.
# The consumer refuses a socket without a session, or whose session has timed out or not
# accepted a second-factor code (4401), and a stream whose permission the
# user lacks, or a brand they do not see (4403): apps/dashboards/selectors.py.
WEBSOCKETS: dict[str, dict[str, str]] = {
    "ws/dashboards/": {
        "queue": "payments.view_payment",
        "alerts": "dashboards.view_dashboard",
        "ops": "dashboards.view_dashboard",
    },
}

# The standard pages of a registered ModelAdmin: URL name suffix -> the permission verb.
ADMIN_MODEL_VIEWS = {
    "changelist": "view",
    "add": "add",
    "change": "view",  # view or change: a read-only page for a viewer
    "delete": "delete",
    "history": "view",
}


def admin_model_declarations(site=None) -> dict[str, Guard]:
    """The standard pages of every ModelAdmin registered on the site (custom ones are in URLS)."""
    from django.contrib import admin

    site = site or admin.site
    out: dict[str, Guard] = {}
    for model in site._registry:
        opts = model._meta
        for suffix, verb in ADMIN_MODEL_VIEWS.items():
            name = f"admin:{opts.app_label}_{opts.model_name}_{suffix}"
            out[name] = perm(f"{opts.app_label}.{verb}_{opts.model_name}")
        # The bare object URL (<id>/) redirects to the change page.
        route = f"admin/{opts.app_label}/{opts.model_name}/<path:object_id>/"
        out[route] = perm(f"{opts.app_label}.view_{opts.model_name}")
    return out


def declarations() -> dict[str, Guard]:
    """Every declared URL: the standard admin pages, then the hand-written census on top."""
    return admin_model_declarations() | URLS

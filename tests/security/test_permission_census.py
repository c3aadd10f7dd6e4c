"""No accidental open door: every URL, admin action and websocket stream is declared with
the permission that guards it (apps/security/census.py), and the guarded ones refuse."""

import re

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver

from apps.dashboards.streams import STREAM_PERMISSION, STREAMS
from apps.security import census
from pam.routing import websocket_urlpatterns
from tests.factories import StaffUserFactory
from tests.helpers.staff import staff_login


def _url_patterns(patterns=None, prefix="", namespace=None):
    """(full route, namespaced name or None, pattern) of every URL of the project."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _url_patterns(pattern.url_patterns, route, ns)
        else:
            assert isinstance(pattern, URLPattern)
            name = pattern.name and (f"{namespace}:{pattern.name}" if namespace else pattern.name)
            yield route, name, pattern


ALL_URLS = list(_url_patterns())
DECLARED = census.declarations()


def _path_of(route: str) -> str:
    """A concrete path for a route: every parameter filled with 1 (a plausible id/value)."""
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)  # re_path() and router groups
    path = re.sub(r"<(?:\w+:)?\w+>", "1", path)  # path() converters
    return "/" + path.replace("^", "").replace("$", "")


def _id(entry) -> str:
    route, name, _ = entry
    return name or route


def test_every_url_is_declared_in_the_census():
    undeclared = [
        name or route for route, name, _ in ALL_URLS if name not in DECLARED and route not in DECLARED
    ]
    assert not undeclared, (
        f"URLs without a declared guard (add them to apps/security/census.py): {undeclared}"
    )


def test_every_declaration_names_a_url_that_exists():
    existing = {name for _, name, _ in ALL_URLS if name} | {route for route, _, _ in ALL_URLS}
    stale = sorted(set(census.URLS) - existing)
    assert not stale, f"census entries for URLs that no longer exist: {stale}"


def test_the_census_names_real_permissions_and_reasons(db):
    known = {
        f"{app}.{code}" for app, code in Permission.objects.values_list("content_type__app_label", "codename")
    }
    in_use = {name for _, name, _ in ALL_URLS if name in DECLARED} | {
        r for r, _, _ in ALL_URLS if r in DECLARED
    }
    for key in sorted(in_use):
        guard = DECLARED[key]
        assert guard.kind in ("perm", "staff", "player", "signed", "public"), key
        assert guard.detail.strip(), f"{key}: a guard needs its permission or reason"
        if guard.kind == "perm" and key != "metrics":
            assert guard.detail in known, f"{key}: {guard.detail} is not a permission"


def test_the_staff_api_declarations_match_the_views_permission_maps():
    for _route, name, pattern in ALL_URLS:
        cls = getattr(pattern.callback, "cls", None)
        actions = getattr(pattern.callback, "actions", None)
        required = getattr(cls, "required_permissions", None)
        if not (required and actions):
            continue
        # the permission of the GET action (or the only one) is the declared one
        action = actions.get("get") or next(iter(actions.values()))
        assert DECLARED[name] == census.perm(required[action]), name


def _guard(route: str, name: str | None):
    return DECLARED.get(name) or DECLARED.get(route)


# (an undeclared URL is caught by test_every_url_is_declared_in_the_census; here it is tried too)
GUARDED = [e for e in ALL_URLS if _guard(e[0], e[1]) is None or _guard(e[0], e[1]).refuses_anonymous]


def _refused(response, method: str) -> bool:
    if response.status_code in (401, 403, 405):
        return True
    if response.status_code in (301, 302):
        return response["Location"].startswith("/admin/login/")
    return False


@pytest.mark.django_db
@pytest.mark.parametrize("entry", GUARDED, ids=_id)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_guarded_url_refuses_an_anonymous_caller(entry, method):
    route, name, _ = entry
    client = Client(raise_request_exception=False)

    response = getattr(client, method)(_path_of(route))

    assert response.status_code != 500
    assert _refused(response, method), (
        f"{method.upper()} {_path_of(route)} ({name}) -> {response.status_code}"
    )


SIGNED = [e for e in ALL_URLS if (_guard(e[0], e[1]) or census.public("")).kind == "signed"]


@pytest.mark.django_db
@pytest.mark.parametrize("entry", SIGNED, ids=_id)
def test_a_signed_callback_refuses_an_unsigned_call(entry):
    route, name, _ = entry
    body = {"user": "1", "userId": "1", "amount": 100, "txAmount": "1.00", "request_uuid": "u-1"}

    response = Client().post(_path_of(route), data=body, content_type="application/json")

    # The protocols answer their own refusals (Hub88: a status in a 200; PaymentIQ: 401)
    assert response.status_code in (200, 401, 403), (name, response.status_code)
    assert b"RS_OK" not in response.content
    assert response.json().get("success") is not True, name


def test_the_census_guards_most_urls():
    # a guard against a census that declares everything public
    public = [key for key, guard in DECLARED.items() if guard.kind == "public"]
    assert len(public) <= 10, public


# --- admin: a staff user without permissions ------------------------------------------


@pytest.fixture
def bare_staff(brand):
    """An active staff user of the brand with no role: admin_view lets them in, and the
    brand's objects are in their scope, but no permission opens a page or an action."""
    return StaffUserFactory(brands=[brand], operator=brand.operator)


def _registry():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


ADMIN_IDS = [model._meta.label for model, _ in _registry()]


@pytest.mark.django_db
@pytest.mark.parametrize("label", ADMIN_IDS)
def test_a_staff_user_without_permissions_gets_no_admin_page(client, bare_staff, label):
    model = next(m for m, _ in _registry() if m._meta.label == label)
    opts = model._meta
    staff_login(client, bare_staff)
    base = f"/admin/{opts.app_label}/{opts.model_name}/"
    names = {name for _, name, _ in ALL_URLS}
    has_add_page = f"admin:{opts.app_label}_{opts.model_name}_add" in names
    pages = [("get", base), ("post", base)] + (
        [("get", f"{base}add/"), ("post", f"{base}add/")] * has_add_page
    )

    for method, path in pages:
        response = getattr(client, method)(path)
        assert response.status_code == 403, f"{method.upper()} {path} -> {response.status_code}"
    for view in ("change", "delete", "history"):
        if f"admin:{opts.app_label}_{opts.model_name}_{view}" not in names:
            continue
        path = f"{base}1/{view}/"
        response = client.get(path)
        # 403, or (no such object) the admin's redirect to its index; never the page
        assert response.status_code in (403, 302), f"GET {path} -> {response.status_code}"
        if response.status_code == 302:
            assert response["Location"] in ("/admin/", f"{base}1/change/"), response["Location"]


CUSTOM_ADMIN_URLS = [
    (route, name)
    for route, name, _ in ALL_URLS
    if name in census.URLS and name.startswith("admin:") and census.URLS[name].kind == "perm"
]


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "name"), CUSTOM_ADMIN_URLS, ids=[n for _, n in CUSTOM_ADMIN_URLS])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_staff_user_without_permissions_gets_no_custom_admin_page(client, bare_staff, route, name, method):
    staff_login(client, bare_staff)

    response = getattr(client, method)(_path_of(route))

    # 403, or a GET-only/POST-only view turning the other method away (405, or back to the object)
    assert response.status_code in (403, 405, 302), f"{method.upper()} {name} -> {response.status_code}"
    if response.status_code == 302:
        assert "/login/" not in response["Location"] and name == "admin:rules_rule_backtest", response[
            "Location"
        ]


def _custom_actions(model_admin):
    """(name, function) of the ModelAdmin's own actions (the site-wide ones are Django's)."""
    for action in model_admin.actions or ():
        func = action if callable(action) else getattr(model_admin, action)
        yield getattr(func, "__name__", str(action)), func


ACTIONS = [(model._meta.label, name, func) for model, ma in _registry() for name, func in _custom_actions(ma)]


def test_the_admin_has_custom_actions_to_check():
    assert len(ACTIONS) >= 20


@pytest.mark.parametrize(("label", "name", "func"), ACTIONS, ids=[f"{lb}.{n}" for lb, n, _ in ACTIONS])
def test_every_custom_admin_action_declares_its_permission(label, name, func):
    allowed = getattr(func, "allowed_permissions", None)
    assert allowed, f"{label} action {name} has no allowed_permissions"
    model_admin = next(ma for m, ma in _registry() if m._meta.label == label)
    for permission in allowed:
        assert callable(getattr(model_admin, f"has_{permission}_permission", None)), (label, name, permission)


@pytest.mark.django_db
@pytest.mark.parametrize("label", ADMIN_IDS)
def test_a_staff_user_without_permissions_is_offered_no_action_and_cannot_run_one(client, bare_staff, label):
    model, model_admin = next((m, ma) for m, ma in _registry() if m._meta.label == label)
    request = RequestFactory().get("/admin/")
    request.user = bare_staff

    assert model_admin.get_actions(request) == {}

    staff_login(client, bare_staff)
    opts = model._meta
    for name, _ in [*_custom_actions(model_admin), ("delete_selected", None)]:
        response = client.post(
            f"/admin/{opts.app_label}/{opts.model_name}/", {"action": name, ACTION_CHECKBOX_NAME: ["1"]}
        )
        assert response.status_code == 403, f"{label} action {name} -> {response.status_code}"


# --- websockets -----------------------------------------------------------------------


def test_every_websocket_route_is_declared():
    routes = {str(pattern.pattern) for pattern in websocket_urlpatterns}
    assert routes == set(census.WEBSOCKETS)


def test_the_dashboard_consumer_guards_every_stream_with_the_declared_permission():
    assert set(STREAM_PERMISSION) == set(STREAMS)
    assert census.WEBSOCKETS["ws/dashboards/"] == STREAM_PERMISSION

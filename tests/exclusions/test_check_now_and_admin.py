"""Support agents' "check now" (permissioned, audited) and the exclusions admin: register
keys are never shown back; personal data in a check's request is masked without the
permission to view it."""

import pytest
from auditlog.models import LogEntry

from apps.exclusions import services
from apps.exclusions.exceptions import CheckNowDenied
from apps.exclusions.models import RegisterCheck, RegisterConfig
from tests.factories import PlayerFactory
from tests.helpers.staff import staff_login

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
CHECK_NOW_URL = "/admin/exclusions/registercheck/check-now/"


@pytest.fixture
def alice(brand):
    return PlayerFactory(brand=brand, username="alice", email="alice@example.com")


# --- check now: the permission matrix ------------------------------------------------------------


def test_a_support_agent_of_the_brand_checks_now_and_it_is_recorded(make_staff, brand, alice, gamstop_config):
    # given
    agent = make_staff("Support agent", brands=[brand])

    # when
    checks = services.check_now(actor=agent, player=alice)

    # then
    assert [(c.register, c.purpose, c.outcome, c.actor) for c in checks] == [
        ("gamstop", "manual", "allowed", f"staff:{agent.pk}")
    ]
    assert RegisterCheck.objects.filter(player=alice).count() == 1


def test_check_now_excluded_self_excludes_the_player(make_staff, brand, alice, gamstop_config, fake_gamstop):
    # given
    officer = make_staff("Compliance officer", brands=[brand])
    fake_gamstop.excluded = {"alice@example.com": "Y"}

    # when
    (check,) = services.check_now(actor=officer, player=alice)

    # then
    alice.refresh_from_db()
    assert (check.outcome, alice.status) == ("excluded", "self_excluded")


@pytest.mark.parametrize("who", ["payments reviewer of the brand", "support agent of another brand"])
def test_check_now_is_refused_without_the_permission_on_the_brand(
    make_staff, brand, other_brand, alice, gamstop_config, fake_gamstop, who
):
    # given
    staff = {
        "payments reviewer of the brand": lambda: make_staff("Payments reviewer", brands=[brand]),
        "support agent of another brand": lambda: make_staff("Support agent", brands=[other_brand]),
    }[who]()

    # when
    with pytest.raises(CheckNowDenied):
        services.check_now(actor=staff, player=alice)

    # then: nothing asked, nothing stored
    assert RegisterCheck.objects.count() == 0
    assert fake_gamstop.requests == []


def test_check_now_of_a_failing_register_is_stored_as_an_error(
    make_staff, brand, alice, gamstop_config, fake_gamstop
):
    # given
    agent = make_staff("Support agent", brands=[brand])
    fake_gamstop.fail_next(status=500, times=3)

    # when
    (check,) = services.check_now(actor=agent, player=alice)

    # then
    assert (check.outcome, check.purpose, check.error) == ("error", "manual", "gamstop: answered HTTP 500.")
    alice.refresh_from_db()
    assert alice.status == "active"


def test_the_admin_check_now_button_runs_the_check(client, make_staff, brand, alice, gamstop_config):
    # given
    agent = make_staff("Support agent", brands=[brand])
    staff_login(client, agent)

    # when
    page = client.get(CHECK_NOW_URL, {"player_id": alice.pk})
    response = client.post(CHECK_NOW_URL, {"player_id": alice.pk})

    # then
    assert page.status_code == 200
    assert response.status_code == 302
    check = RegisterCheck.objects.get()
    assert (check.player_id, check.purpose, check.actor) == (alice.pk, "manual", f"staff:{agent.pk}")


def test_the_admin_check_now_refuses_staff_without_the_permission(
    client, make_staff, brand, alice, gamstop_config
):
    # given
    reviewer = make_staff("Payments reviewer", brands=[brand])
    staff_login(client, reviewer)

    # when
    response = client.post(CHECK_NOW_URL, {"player_id": alice.pk})

    # then
    assert response.status_code == 403
    assert RegisterCheck.objects.count() == 0


def test_the_admin_check_now_does_not_reach_another_brands_player(
    client, make_staff, other_brand, alice, gamstop_config, fake_gamstop
):
    # given
    agent = make_staff("Support agent", brands=[other_brand])
    staff_login(client, agent)

    # when
    response = client.post(CHECK_NOW_URL, {"player_id": alice.pk})

    # then
    assert response.status_code == 200
    assert "No such player in your brands." in response.content.decode()
    assert RegisterCheck.objects.count() == 0
    assert fake_gamstop.requests == []


# --- register configuration: the key is write-only -----------------------------------------------


def test_the_api_key_is_never_shown_back(client, superuser, gamstop_config):
    # given
    staff_login(client, superuser)
    url = f"/admin/exclusions/registerconfig/{gamstop_config.pk}/change/"
    key = gamstop_config.api_key

    # when
    page = client.get(url).content.decode()
    listing = client.get("/admin/exclusions/registerconfig/").content.decode()

    # then
    assert key not in page
    assert key not in listing
    assert '<div class="readonly">set</div>' in page
    assert '<input type="password" name="new_api_key" autocomplete="new-password"' in page


def test_saving_without_a_new_key_keeps_it_and_a_new_key_replaces_it(client, superuser, gamstop_config):
    # given
    staff_login(client, superuser)
    url = f"/admin/exclusions/registerconfig/{gamstop_config.pk}/change/"
    form = {
        "active": "on",
        "base_url": gamstop_config.base_url,
        "batch_url": gamstop_config.batch_url,
        "actor_id": "",
        "timeout_seconds": "3",
        "new_api_key": "",
    }

    # when
    kept = client.post(url, form)
    replaced = client.post(url, {**form, "new_api_key": "brand-new-secret-key"})

    # then
    assert (kept.status_code, replaced.status_code) == (302, 302)
    gamstop_config.refresh_from_db()
    assert (gamstop_config.api_key, gamstop_config.timeout_seconds) == ("brand-new-secret-key", 3.0)
    logged = " ".join(str(entry.changes) for entry in LogEntry.objects.all())
    assert "brand-new-secret-key" not in logged
    assert "brand-new-secret-key" not in client.get(url).content.decode()


def test_a_brand_admin_configures_only_their_own_brands(make_staff, brand, other_brand):
    # given
    admin_a = make_staff("Brand admin", brands=[brand])

    # when
    config = services.register_config_save(
        actor=admin_a,
        brand=brand,
        register="gamstop",
        api_key="k1",
        base_url="https://gamstop.example",
        active=True,
    )

    # then
    assert RegisterConfig.objects.get().pk == config.pk
    with pytest.raises(Exception) as refused:
        services.register_config_save(
            actor=admin_a, brand=other_brand, register="spelpaus", api_key="k2", base_url="https://x.example"
        )
    assert refused.value.code == "register_config_denied"
    assert RegisterConfig.objects.count() == 1


# --- check history: personal data masked -----------------------------------------------------------


def test_the_check_history_masks_personal_data_without_the_permission(
    client, make_staff, brand, alice, gamstop_config
):
    # given
    agent = make_staff("Support agent", brands=[brand])  # may view personal data
    reviewer = make_staff("Payments reviewer", brands=[brand])  # may not
    reviewer.user_permissions.add(*_perms("exclusions.view_registercheck"))
    (check,) = services.check_now(actor=agent, player=alice)
    url = f"/admin/exclusions/registercheck/{check.pk}/change/"

    # when
    staff_login(client, agent)
    seen_by_agent = client.get(url).content.decode()
    staff_login(client, reviewer)
    seen_by_reviewer = client.get(url).content.decode()

    # then
    assert "alice@example.com" in seen_by_agent
    assert "alice@example.com" not in seen_by_reviewer
    assert "•••" in seen_by_reviewer
    assert check.correlation_id in seen_by_reviewer  # our trace id is not personal
    # and only the unmasked page is a read of personal data in the access audit
    from apps.security.models import AuditRecord

    [read] = AuditRecord.objects.filter(kind="personal_data_read")
    assert (read.actor_id, read.player_id, read.brand_id) == (agent.pk, alice.pk, brand.pk)
    assert (read.object_type, read.object_id) == ("exclusions.registercheck", str(check.pk))
    assert read.detail["source"] == "exclusions.admin.register_check"
    assert "email" in read.detail["fields"] and "alice@example.com" not in str(read.detail)


def _perms(*names):
    from django.contrib.auth.models import Permission

    return [
        Permission.objects.get(content_type__app_label=name.split(".")[0], codename=name.split(".")[1])
        for name in names
    ]

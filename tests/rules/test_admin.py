"""BeAware in the admin: a compliance officer writes a rule (errors shown, nothing saved),
edits it into a new version, backtests it, switches it on; auditors only read; another
brand's rule is not there."""

import json

import pytest

from apps.rules.models import BacktestRun, ReviewTask, RiskMarker, Rule
from tests.helpers.staff import staff_login

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ADD_URL = "/admin/rules/rule/add/"


def form(brand, **fields):
    data = {
        "brand": brand.pk,
        "name": "deposit velocity",
        "description": "",
        "priority": 100,
        "triggers": ["payments.deposit_completed"],
        "condition": "sum(deposit, 24h) > 2000",
        "actions": json.dumps([{"type": "review_task", "queue": "aml"}]),
        "cooldown_seconds": 86400,
        "note": "first",
        "versions-TOTAL_FORMS": 0,
        "versions-INITIAL_FORMS": 0,
        "versions-MIN_NUM_FORMS": 0,
        "versions-MAX_NUM_FORMS": 1000,
    }
    data.update(fields)
    return data


@pytest.fixture
def officer_client(client, officer):
    staff_login(client, officer)
    return client


def test_an_officer_writes_a_rule_in_the_admin(officer_client, officer, brand):
    response = officer_client.post(ADD_URL, form(brand))

    assert response.status_code == 302, response.content.decode()[:2000]
    rule = Rule.objects.get()
    assert (rule.name, rule.enabled, rule.current_version.number, rule.current_version.created_by) == (
        "deposit velocity",
        False,
        1,
        f"staff:{officer.pk}",
    )
    assert rule.current_version.actions == [{"type": "review_task", "queue": "aml"}]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"condition": "sum(deposit, 24h) >"}, "Syntax error at line 1"),
        ({"condition": "sum(casino, 1h) > 1"}, "Unknown kind"),
        ({"actions": json.dumps([{"type": "flag"}])}, "Action 1 (flag)"),
        ({"actions": "not json"}, "Enter a valid JSON"),
        ({"triggers": []}, "This field is required"),
        ({"cooldown_seconds": 5}, "greater than or equal to 60"),
    ],
)
def test_an_invalid_rule_shows_why_and_saves_nothing(officer_client, brand, fields, message):
    response = officer_client.post(ADD_URL, form(brand, **fields))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Rule.objects.exists()


def test_editing_what_a_rule_says_makes_a_new_version_and_settings_do_not(officer_client, brand, make_rule):
    rule = make_rule("event.amount > 5", enabled=False, name="big deposit")
    url = f"/admin/rules/rule/{rule.pk}/change/"
    same = form(
        brand,
        name="big deposit",
        condition="event.amount > 5",
        actions=json.dumps(rule.current_version.actions),
        priority=7,
    )

    officer_client.post(url, same)
    rule.refresh_from_db()
    assert (rule.priority, rule.versions.count()) == (7, 1)

    response = officer_client.post(url, {**same, "condition": "event.amount > 50", "note": "raise"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.versions.count(), rule.current_version.condition, rule.current_version.note) == (
        2,
        "event.amount > 50",
        "raise",
    )
    page = officer_client.get(url).content.decode()
    assert "event.amount &gt; 50" in page and "Backtest" in page


def test_enable_and_disable_are_admin_actions(officer_client, make_rule):
    rule = make_rule("event.amount > 5", enabled=False)

    officer_client.post("/admin/rules/rule/", {"action": "enable", "_selected_action": [rule.pk]})
    rule.refresh_from_db()
    assert rule.enabled is True
    officer_client.post("/admin/rules/rule/", {"action": "disable", "_selected_action": [rule.pk]})
    rule.refresh_from_db()
    assert rule.enabled is False


def test_the_backtest_button_queues_and_runs_a_backtest(
    officer_client, make_rule, django_capture_on_commit_callbacks
):
    rule = make_rule("event.amount > 5", enabled=False)

    with django_capture_on_commit_callbacks(execute=True):
        response = officer_client.post(f"/admin/rules/rule/{rule.pk}/backtest/", {"days": "14"})

    run = BacktestRun.objects.get()
    assert response.status_code == 302 and response.url == f"/admin/rules/backtestrun/{run.pk}/change/"
    assert (run.days, run.status) == (14, "done")
    assert officer_client.get(response.url).status_code == 200


def test_a_bad_backtest_period_is_refused(officer_client, make_rule):
    rule = make_rule("event.amount > 5", enabled=False)

    response = officer_client.post(f"/admin/rules/rule/{rule.pk}/backtest/", {"days": "abc"}, follow=True)

    assert "A backtest covers 1 to 90 days." in response.content.decode()
    assert not BacktestRun.objects.exists()


def test_an_auditor_reads_rules_and_changes_nothing(client, make_staff, brand, make_rule):
    rule = make_rule("event.amount > 5", enabled=False)
    auditor = make_staff("Auditor", brands=[brand])
    staff_login(client, auditor)

    assert client.get("/admin/rules/rule/").status_code == 200
    assert client.get(f"/admin/rules/rule/{rule.pk}/change/").status_code == 200
    client.post(f"/admin/rules/rule/{rule.pk}/change/", form(brand, condition="true"))
    client.post("/admin/rules/rule/", {"action": "enable", "_selected_action": [rule.pk]})
    assert client.post(f"/admin/rules/rule/{rule.pk}/backtest/", {"days": "7"}).status_code == 403
    assert client.post(ADD_URL, form(brand, name="new")).status_code == 403

    rule.refresh_from_db()
    assert (rule.enabled, rule.versions.count(), Rule.objects.count(), BacktestRun.objects.count()) == (
        False,
        1,
        1,
        0,
    )


def test_another_brands_rule_answers_like_a_missing_one(client, make_staff, other_brand, make_rule):
    rule = make_rule("event.amount > 5", enabled=False)
    foreign = make_staff("Compliance officer", brands=[other_brand])
    staff_login(client, foreign)

    assert client.get(f"/admin/rules/rule/{rule.pk}/change/").status_code == 302  # "does not exist"
    assert client.post(f"/admin/rules/rule/{rule.pk}/backtest/", {"days": "7"}).status_code == 404
    assert rule.pk not in [r.pk for r in client.get("/admin/rules/rule/").context["cl"].result_list]


def test_markers_are_cleared_and_tasks_closed_in_the_admin(officer_client, officer, player, brand):
    marker = RiskMarker.objects.create(player=player, brand=brand, marker="velocity", level="high")
    task = ReviewTask.objects.create(player=player, brand=brand, queue="aml", title="look at alice")

    officer_client.post(
        f"/admin/rules/riskmarker/{marker.pk}/change/", {"clear_reason": "source of funds seen"}
    )
    officer_client.post("/admin/rules/reviewtask/", {"action": "take", "_selected_action": [task.pk]})
    officer_client.post(f"/admin/rules/reviewtask/{task.pk}/change/", {"resolution": "payslips on file"})

    marker.refresh_from_db()
    task.refresh_from_db()
    assert (marker.clear_reason, marker.cleared_by) == ("source of funds seen", f"staff:{officer.pk}")
    assert (task.status, task.assigned_to, task.resolution) == ("closed", officer, "payslips on file")

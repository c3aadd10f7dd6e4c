"""A rule's hit and what it did appear on the player's timeline, live and after a rebuild."""

import pytest

from apps.rules.models import Message, RuleHit
from apps.timeline.models import TimelineEntry
from apps.timeline.services import timeline_rebuild

pytestmark = pytest.mark.django_db


def test_a_rules_actions_appear_on_the_timeline(player, emit, make_rule):
    make_rule(
        "event.amount >= 100",
        name="Big deposit",
        actions=[
            {"type": "flag", "marker": "big_deposit", "level": "high"},
            {"type": "limit", "kind": "deposit", "period": "day", "amount": "500"},
            {
                "type": "message",
                "channel": "inbox",
                "subject": "Your deposit limit",
                "body": "We set a limit.",
            },
        ],
    )

    emit("deposit", player, 25_000)

    hit, message = RuleHit.objects.get(), Message.objects.get()
    entries = {
        entry.source_type: entry
        for entry in TimelineEntry.objects.filter(player=player, source_type__startswith="rules.")
    }
    fired, sent = entries["rules.rulehit"], entries["rules.message"]
    assert (fired.category, fired.actor, fired.source_id) == ("staff_action", "system:rules", hit.pk)
    assert fired.summary == (
        "Rule 'Big deposit' v1 fired: flag: big_deposit (high); limit: deposit limit per day set to 500;"
        f" message: inbox message {message.pk}"
    )
    assert (sent.category, sent.summary, sent.source_id) == (
        "communication",
        "Message sent (inbox): Your deposit limit",
        message.pk,
    )
    # the limit the rule set is on the timeline too, as the limit change it is
    limit = TimelineEntry.objects.get(player=player, category="limit")
    assert limit.actor == "system:rules"


def test_rebuilding_the_timeline_gives_the_rule_entries_again(player, emit, make_rule):
    make_rule("event.amount > 0", actions=[{"type": "flag", "marker": "m", "level": "low"}])
    emit("deposit", player, 1_000)
    live = sorted(TimelineEntry.objects.filter(player=player).values_list("event_id", "category", "summary"))

    TimelineEntry.objects.filter(player=player).delete()
    timeline_rebuild(player_id=player.pk)

    assert (
        sorted(TimelineEntry.objects.filter(player=player).values_list("event_id", "category", "summary"))
        == live
    )
    assert any(summary.startswith("Rule 'rule") for _e, _c, summary in live)

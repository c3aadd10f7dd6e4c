"""`manage.py seed_demo` fills an empty database once; running it again changes nothing."""

import io

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.core.management import call_command
from guardian.models import UserObjectPermission

from apps.compliance.models import BrandRulesVersion
from apps.core.models import Event
from apps.players.models import Player
from apps.responsible_gaming.models import Exclusion, Limit, LimitChange
from apps.tenants.models import Brand, Operator, StaffUser
from apps.tenants.roles import ROLES
from apps.tenants.selectors import brands_visible_to

pytestmark = pytest.mark.django_db

COUNTED = {
    "operators": Operator.objects,
    "brands": Brand.objects,
    "brand currencies": Brand.currencies.through.objects,
    "staff": StaffUser.objects,
    "groups": Group.objects,
    "staff roles": StaffUser.groups.through.objects,
    "object grants": UserObjectPermission.objects,
    "players": Player.objects,
    "events": Event.objects,
    "audit rows": LogEntry.objects,
    "limits": Limit.objects,
    "limit changes": LimitChange.objects,
    "exclusions": Exclusion.objects,
    "brand rules versions": BrandRulesVersion.objects,
}


def _counts() -> dict[str, int]:
    return {name: manager.count() for name, manager in COUNTED.items()}


def test_seed_demo_twice_creates_the_demo_once():
    # Given an empty database
    assert Player.objects.count() == 0
    # When seed_demo runs twice
    call_command("seed_demo", stdout=io.StringIO())
    after_first = _counts()
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    # Then the second run created nothing
    assert _counts() == after_first
    assert "Demo players: 300 (0 new)" in out.getvalue()
    # And the demo is two operators, three brands (GB, MT, SE), 300 players
    assert after_first["operators"] == 2
    assert sorted(Brand.objects.values_list("jurisdiction", flat=True)) == ["GB", "MT", "SE"]
    assert after_first["players"] == 300
    assert {b.code: b.players.count() for b in Brand.objects.all()} == {
        "northstar-uk": 100,
        "northstar-mt": 100,
        "nordicplay-se": 100,
    }
    assert Player.objects.filter(brand__jurisdiction="SE", national_id="").count() == 0
    # And one staff user per role, each holding exactly that role and some brand
    role_of = {
        user.username: [g.name for g in user.groups.all()]
        for user in StaffUser.objects.filter(groups__isnull=False).distinct()
    }
    assert sorted(name for names in role_of.values() for name in names) == sorted(ROLES)
    assert all(len(names) == 1 for names in role_of.values())
    for user in StaffUser.objects.filter(username__in=role_of):
        assert user.is_staff and user.is_active and not user.is_superuser
        assert brands_visible_to(user).exists(), user.username
    assert StaffUser.objects.get(username="admin").is_superuser
    # And the compliance pages have something to show: limits, pending increases, exclusions
    assert after_first["limits"] > 0
    assert LimitChange.objects.filter(status="pending").count() == 6
    assert set(Exclusion.objects.values_list("kind", flat=True)) == {"timeout", "self_exclusion"}
    assert after_first["brand rules versions"] == 1

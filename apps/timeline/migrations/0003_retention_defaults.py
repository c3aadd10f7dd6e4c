"""The platform's default retention rules (no brand, no jurisdiction); see retention.py for
where each period comes from. Rows, not code: compliance sees and changes them in the admin
(audited), per jurisdiction or per brand where a licence asks for more."""

from django.db import migrations
from django.utils import timezone

AML = (
    "AML record keeping: 5 years after the relationship ends "
    "(GB MLR 2017 reg. 40, MT PMLFTR reg. 13, SE 2017:630 5 kap. 3 §)"
)
# (category, action, after_days, legal basis)
DEFAULTS = [
    ("game", "summarise", 180, "Data minimisation: play older than 6 months kept as monthly totals"),
    ("login", "purge", 730, "Data minimisation: login history (IP-bearing) kept 2 years"),
    ("communication", "purge", 730, "Data minimisation: marketing and service messages kept 2 years"),
    ("payment", "keep", 1827, AML),
    ("bonus", "keep", 1827, AML),
    ("limit", "keep", 1827, "Responsible-gaming record, kept as the AML records are"),
    ("exclusion", "keep", 1827, "Responsible-gaming record, kept as the AML records are"),
    ("register_check", "keep", 1827, "Self-exclusion register checks, kept as the AML records are"),
    ("staff_action", "keep", 1827, AML),
    ("registration", "keep", 1827, "Customer due diligence record: " + AML),
]


def seed(apps, schema_editor):
    RetentionPolicy = apps.get_model("timeline", "RetentionPolicy")
    now = timezone.now()
    for category, action, after_days, basis in DEFAULTS:
        RetentionPolicy.objects.get_or_create(
            category=category,
            brand=None,
            jurisdiction="",
            defaults={
                "action": action,
                "after_days": after_days,
                "legal_basis": basis[:200],
                "updated_at": now,
            },
        )


def unseed(apps, schema_editor):
    RetentionPolicy = apps.get_model("timeline", "RetentionPolicy")
    RetentionPolicy.objects.filter(
        brand=None, jurisdiction="", category__in=[d[0] for d in DEFAULTS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("timeline", "0002_retention_and_erasure")]

    operations = [migrations.RunPython(seed, unseed)]

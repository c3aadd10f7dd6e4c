"""The currencies the platform starts with. Exponents are facts of the currency, not settings."""

from django.db import migrations

CURRENCIES = [
    ("EUR", "Euro", 2),
    ("GBP", "Pound sterling", 2),
    ("SEK", "Swedish krona", 2),
    ("USD", "US dollar", 2),
    ("BTC", "Bitcoin", 8),
    ("ETH", "Ether", 8),
]


def add_currencies(apps, schema_editor):
    Currency = apps.get_model("core", "Currency")
    for code, name, exponent in CURRENCIES:
        Currency.objects.update_or_create(code=code, defaults={"name": name, "exponent": exponent})


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(add_currencies, migrations.RunPython.noop)]

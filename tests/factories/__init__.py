"""factory_boy factories. Players are built directly (fast); registration tests use the service."""

import importlib
from datetime import date

import factory
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from guardian.shortcuts import assign_perm

from apps.core.models import Currency
from apps.players.models import Player
from apps.tenants.models import Brand, Operator, StaffUser

PLAYER_PASSWORD = "player-pass-2026"
STAFF_PASSWORD = "staff-pass-2026"


def currencies_ensure() -> None:
    """Put back the data migration's currencies: a transaction=True test's flush removes them."""
    migration = importlib.import_module("apps.core.migrations.0002_currencies")
    for code, name, exponent in migration.CURRENCIES:
        Currency.objects.get_or_create(code=code, defaults={"name": name, "exponent": exponent})


def currency_get(code: str) -> Currency:
    currencies_ensure()
    return Currency.objects.get(code=code)


class OperatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Operator
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"operator-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    legal_name = factory.LazyAttribute(lambda o: f"{o.name} Ltd")


class BrandFactory(factory.django.DjangoModelFactory):
    """BrandFactory(currencies=["SEK", "EUR"]): the first currency is the default."""

    class Meta:
        model = Brand
        django_get_or_create = ["code"]

    operator = factory.SubFactory(OperatorFactory)
    code = factory.Sequence(lambda n: f"brand-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    jurisdiction = "GB"
    currencies = ("GBP",)
    default_currency = factory.LazyAttribute(lambda o: currency_get(o.currencies[0]))

    @classmethod
    def _create(cls, model_class, *args, currencies=("GBP",), **kwargs):
        currencies_ensure()
        brand = super()._create(model_class, *args, **kwargs)
        brand.currencies.add(*Currency.objects.filter(code__in=currencies))
        return brand


class StaffUserFactory(factory.django.DjangoModelFactory):
    """A working staff user; `role` names a group, `brands`/`operator_access` grant access."""

    class Meta:
        model = StaffUser
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    is_staff = True
    is_active = True
    password = factory.django.Password(STAFF_PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))

    @factory.post_generation
    def brands(self, create, extracted, **kwargs):
        for brand in extracted or ():
            assign_perm("tenants.access_brand", self, brand)

    @factory.post_generation
    def operator_access(self, create, extracted, **kwargs):
        if extracted is not None:
            assign_perm("tenants.access_operator", self, extracted)


class PlayerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Player

    brand = factory.SubFactory(BrandFactory)
    username = factory.Sequence(lambda n: f"player{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.LazyFunction(lambda: make_password(PLAYER_PASSWORD))
    first_name = "Alex"
    last_name = factory.Sequence(lambda n: f"Lastname{n}")
    date_of_birth = date(1990, 5, 17)
    country = factory.LazyAttribute(lambda o: o.brand.jurisdiction)
    address_line = "1 High Street"
    city = "London"
    postcode = "SW1A 2AA"
    mobile = factory.Sequence(lambda n: f"+447400{100000 + n}")
    currency = factory.LazyAttribute(lambda o: o.brand.default_currency)

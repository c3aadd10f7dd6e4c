"""Fixtures of the wallet tests: wallets (empty or funded), actors and staff who may adjust."""

import itertools

import pytest
from django.contrib.auth.models import Group, Permission

from apps.tenants.roles import ROLES
from apps.wallet import services
from tests.factories import PlayerFactory
from tests.wallet.actions import PROVIDER, PSP

_setup_ids = itertools.count(1)


def role_holding(perm: str, *, lacking=()) -> str:
    """A role (group name) holding `perm` and none of `lacking`: the product's role if one
    fits, else a test group holding just `perm`."""
    for role, perms in ROLES.items():
        if perm in perms and not set(lacking) & set(perms):
            return role
    app_label, codename = perm.split(".")
    group, _ = Group.objects.get_or_create(name=f"Test: {perm}")
    group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return group.name


@pytest.fixture
def make_wallet(brand):
    """make_wallet(cash=0, bonus=0, brand=brand, currency=brand's default): a new player's wallet.

    Money is put in through the services (deposit, bonus grant), so the setup is on the
    ledger like everything else.
    """

    def make(*, cash: int = 0, bonus: int = 0, brand=brand, currency: str | None = None, player=None):
        player = player or PlayerFactory(brand=brand)
        wallet = services.wallet_get_or_create(
            player=player, currency_code=currency or brand.default_currency_id
        )
        if cash:
            services.deposit_credit(
                wallet=wallet, amount=cash, source="setup", external_id=f"dep-{next(_setup_ids)}", actor=PSP
            )
        if bonus:
            services.bonus_grant(
                wallet=wallet, amount=bonus, source="setup", external_id=f"bon-{next(_setup_ids)}", actor=PSP
            )
        return wallet

    return make


@pytest.fixture
def wallet(make_wallet):
    """An empty GBP wallet of a player of brand A."""
    return make_wallet()


@pytest.fixture
def funded_wallet(make_wallet):
    """A GBP wallet of brand A holding 100.00 cash."""
    return make_wallet(cash=10_000)


@pytest.fixture
def make_wallet_staff(make_staff):
    """make_wallet_staff("wallet.adjust_balance", ..., brands=[...], lacking=[...]): staff holding
    these permissions (through roles that do not hold the `lacking` ones)."""

    def make(*perms: str, brands=(), lacking=(), **kwargs):
        roles = [role_holding(perm, lacking=lacking) for perm in perms]
        user = make_staff(roles[0] if roles else None, brands=brands, **kwargs)
        user.groups.add(*Group.objects.filter(name__in=roles[1:]))
        return type(user).objects.get(pk=user.pk)  # a fresh object: no stale permission cache

    return make


@pytest.fixture
def make_indebted_wallet(make_wallet):
    """make_indebted_wallet(debt): a wallet with no cash that owes `debt`.

    The way debt arises in the product: a win is paid, spent, then rolled back.
    """

    def make(debt: int, **kwargs):
        wallet = make_wallet(cash=debt, **kwargs)
        n = next(_setup_ids)
        bet = {"wallet": wallet, "amount": debt, "source": "setup", "actor": PROVIDER}
        services.bet_place(**bet, external_id=f"debt-bet-{n}")
        services.win_settle(
            wallet=wallet,
            amount=debt,
            source="setup",
            external_id=f"debt-win-{n}",
            bet_external_id=f"debt-bet-{n}",
            actor=PROVIDER,
        )
        services.bet_place(**bet, external_id=f"debt-spend-{n}")
        services.transaction_rollback(
            wallet=wallet,
            source="setup",
            external_id=f"debt-rollback-{n}",
            target_external_id=f"debt-win-{n}",
            actor=PROVIDER,
        )
        return wallet

    return make

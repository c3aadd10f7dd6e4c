"""Demo payments: a review policy per brand and payments in every interesting state, so that
the review queue has work in `make run`. Everything goes through the services, with the demo
staff as actors (the superuser where a brand has no payments staff). Idempotent: skipped once
any payment exists.

Per brand: completed deposits (card and bank transfer), a large deposit flagged with its
funds received, withdrawals waiting for review, one above four eyes with its first approval,
one past its deadline that the SLA job escalated to the senior queue, one paid out and one
the player took back.
"""

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from stdnum import iban as stdnum_iban

from apps.compliance import interface as compliance
from apps.core.actors import provider_actor
from apps.payments import services
from apps.payments.api.serializers import bank_account_from_iban
from apps.payments.models import Payment, ReviewPolicy
from apps.players.models import Player
from apps.tenants.permissions import user_can

PAYMENTIQ = provider_actor("paymentiq")
# Amounts in units of the brand's currency, scaled (SEK amounts are ten times larger).
SCALE = {"SEK": 10}
# The players' bank accounts: a country's IBAN layout with the player's id as account number.
IBAN_LAYOUT = {"GB": "GB00DEMO{:014d}", "MT": "MT00DEMO{:023d}", "SE": "SE00{:020d}"}


def seed(context: dict) -> None:
    if Payment.objects.exists():
        return
    brands = list(context["brands"].values())
    with transaction.atomic():
        plans = [_Plan(brand, context) for brand in brands]
        plans = [plan for plan in plans if plan.ready]
        for plan in plans:
            plan.overdue_withdrawal()
        # The SLA job, run as if the overdue items' deadline had come (they were created
        # first, so nothing else is due yet).
        if plans:
            latest = max(
                Payment.objects.filter(pk__in=[p.overdue.pk for p in plans]).values_list(
                    "sla_due_at", flat=True
                )
            )
            services.reviews_escalate_overdue(now=latest + timedelta(seconds=1))
        for plan in plans:
            plan.the_rest()
    context["logins"].append(
        f"Demo payments: {Payment.objects.count()} on {len(plans)} brand(s);"
        f" {Payment.objects.filter(queue__in=['standard', 'senior']).count()} in the review queue."
    )


class _Plan:
    """One brand's demo payments, played through the services."""

    def __init__(self, brand, context: dict):
        self.brand = brand
        self.currency = brand.default_currency
        self.unit = 10**self.currency.exponent * SCALE.get(self.currency.code, 1)
        # Northstar's payments reviewer works both Northstar brands; where the demo has no
        # payments staff (Nordic Play), the superuser acts.
        reviewer = context["staff"]["payments"]
        covered = user_can(reviewer, "payments.process_payouts", brand_id=brand.pk)
        self.reviewer = reviewer if covered else context["admin"]
        ReviewPolicy.objects.get_or_create(
            brand=brand,
            defaults={
                "amount_thresholds": {self.currency.code: self._text(5_000)},
                "four_eyes_above": {self.currency.code: self._text(1_000)},
                "low_risk_flags": ["first_withdrawal", "new_payment_account"],
            },
        )
        self.players = self._players(7)
        self.ready = len(self.players) == 7

    def _text(self, units: int) -> str:
        return str(Decimal(units * self.unit).scaleb(-self.currency.exponent))

    def _players(self, count: int) -> list[Player]:
        """Active, verified players in the brand's currency whom compliance lets deposit and
        withdraw (the responsible-gaming demo gave some limits and exclusions)."""
        chosen = []
        candidates = Player.objects.filter(
            brand=self.brand, status=Player.Status.ACTIVE, kyc_status="verified", currency=self.currency
        ).order_by("pk")
        for player in candidates[:200]:
            amount = 6_000 * self.unit
            deposit = compliance.check("deposit", player, amount=amount, currency=self.currency.code)
            withdraw = compliance.check("withdraw", player, amount=self.unit, currency=self.currency.code)
            if deposit.allowed and withdraw.allowed:
                chosen.append(player)
            if len(chosen) == count:
                break
        return chosen

    def _account(self, player):
        layout = IBAN_LAYOUT.get(self.brand.jurisdiction)
        if layout is None:
            return None
        number = layout.format(player.pk)
        iban = number[:2] + stdnum_iban.calc_check_digits(number) + number[4:]
        return bank_account_from_iban(stdnum_iban.validate(iban))

    def _deposit(self, player, units: int, *, by_card: bool = False, confirm: bool = True) -> Payment:
        if by_card:
            payment = services.deposit_initiate(
                player=player,
                amount=units * self.unit,
                currency=self.currency.code,
                method="card",
                card_type="debit",
                provider="paymentiq",
                actor=PAYMENTIQ,
            )
        else:
            payment = services.deposit_initiate(
                player=player,
                amount=units * self.unit,
                currency=self.currency.code,
                method="bank_transfer",
                provider="manual_bank",
                actor=player,
            )
        if confirm:
            # A card deposit is confirmed by PaymentIQ; a bank transfer by the person who saw
            # it arrive on the operator's account.
            services.deposit_confirm(payment_id=payment.pk, actor=PAYMENTIQ if by_card else self.reviewer)
        return payment

    def _withdraw(self, player, units: int) -> Payment:
        return services.withdrawal_request(
            player=player,
            amount=units * self.unit,
            currency=self.currency.code,
            method="bank_transfer",
            provider="manual_bank",
            actor=player,
            account=self._account(player),
        )

    def overdue_withdrawal(self) -> None:
        player = self.players[0]
        self._deposit(player, 150)
        self.overdue = self._withdraw(player, 120)

    def the_rest(self) -> None:
        first, second, third, fourth, fifth, sixth = self.players[1:]
        # Completed deposits, by card and by bank transfer.
        self._deposit(first, 50, by_card=True)
        self._deposit(second, 100)
        # A large deposit: flagged (the brand's threshold, and AML), its money has arrived.
        self._deposit(third, 6_000)
        # A withdrawal waiting for review (the player's first, to a new account).
        self._deposit(first, 40)
        self._withdraw(first, 60)
        # Above four eyes: the reviewer gave the first approval; a senior must give the second.
        self._deposit(fourth, 1_400)
        large = self._withdraw(fourth, 1_200)
        services.review_claim(actor=self.reviewer, payment_id=large.pk)
        services.review_approve(actor=self.reviewer, payment_id=large.pk, reason="Demo: documents checked")
        # Approved, sent and paid out by hand.
        self._deposit(fifth, 300)
        paid = self._withdraw(fifth, 200)
        services.review_claim(actor=self.reviewer, payment_id=paid.pk)
        services.review_approve(
            actor=self.reviewer, payment_id=paid.pk, reason="Demo: same account as deposits"
        )
        services.withdrawal_process(payment_id=paid.pk, actor=self.reviewer)
        services.withdrawal_paid(payment_id=paid.pk, actor=self.reviewer)
        # The player changed their mind.
        self._deposit(sixth, 80)
        taken_back = self._withdraw(sixth, 50)
        services.withdrawal_cancel_by_player(payment_id=taken_back.pk, player=sixth)

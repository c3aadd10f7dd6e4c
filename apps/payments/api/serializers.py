"""Serializers translate HTTP input to service arguments and results back; no logic here.

Amounts cross the API as decimal strings with the currency's decimals ("12.50"), never as
JSON numbers (floats); inside they are integer minor units (apps.core.money).
"""

import hashlib
import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumValidationError

from apps.core.models import Currency
from apps.core.money import decimal_to_minor, minor_to_decimal
from apps.payments.models import Method, Payment, Queue, Status
from apps.payments.services import MAX_AMOUNT, AccountInfo

# At most 19 significant integer digits (MAX_AMOUNT has 19) and, once trailing zeros are
# dropped, no more decimals than the currency has: the conversion below is then exact
# (Decimal's default context keeps 28 digits and would round anything longer).
_AMOUNT = re.compile(r"(?P<whole>[0-9]{1,40})(?:\.(?P<fraction>[0-9]{1,40}))?", re.ASCII)
_IBAN_CHARS = re.compile(r"[A-Za-z0-9 ]{5,64}", re.ASCII)

# What a player sees of a payment's status: whether it waits, moves or ended, never why it
# waits (flagged, in review, auto-approved are the operator's business).
PLAYER_STATUS = {
    Status.INITIATED: "pending",
    Status.PENDING: "pending",
    Status.FLAGGED: "pending",
    Status.IN_REVIEW: "pending",
    Status.APPROVED: "pending",
    Status.REQUESTED: "pending",
    Status.AUTO_APPROVED: "pending",
    Status.PENDING_REVIEW: "pending",
    Status.PROCESSING: "processing",
    Status.COMPLETED: "completed",
    Status.PAID: "paid",
    Status.REJECTED: "rejected",
    Status.FAILED: "failed",
    Status.CANCELLED: "cancelled",
}
PLAYER_STATUSES = sorted(set(PLAYER_STATUS.values()))
PAYMENT_KINDS = Payment.Kind.choices  # named here for the schema's ENUM_NAME_OVERRIDES
# A withdrawal the player may still take back (not yet sent for payout).
PLAYER_CANCELLABLE = (
    Status.REQUESTED,
    Status.AUTO_APPROVED,
    Status.PENDING_REVIEW,
    Status.IN_REVIEW,
    Status.APPROVED,
)


def amount_text(payment: Payment) -> str:
    """The payment's amount with exactly its currency's decimals ("12.50")."""
    value = minor_to_decimal(payment.amount, currency_exponent=payment.currency.exponent)
    return format(value, "f")


def amount_to_minor(text: str, currency: Currency) -> int:
    """A validated amount string in minor units of `currency`; ValidationError on "amount"."""
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise serializers.ValidationError({"amount": ['Enter a decimal amount such as "12.50".']})
    whole = match["whole"].lstrip("0") or "0"
    fraction = (match["fraction"] or "").rstrip("0")
    if len(fraction) > currency.exponent:
        raise serializers.ValidationError(
            {"amount": [f"{currency.code} amounts have at most {currency.exponent} decimals."]}
        )
    if len(whole) > 19:
        raise serializers.ValidationError({"amount": ["The amount is too large."]})
    minor = decimal_to_minor(f"{whole}.{fraction or '0'}", currency_exponent=currency.exponent)
    if minor <= 0:
        raise serializers.ValidationError({"amount": ["The amount must be more than zero."]})
    if minor > MAX_AMOUNT:
        raise serializers.ValidationError({"amount": ["The amount is too large."]})
    return minor


def bank_account_from_iban(iban: str) -> AccountInfo:
    """How a player's bank account is kept: a SHA-256 of the normalised IBAN (stable, so the
    review rules recognise the account again) and a masked form for people; never the IBAN."""
    digest = hashlib.sha256(iban.encode("ascii")).hexdigest()
    return AccountInfo(ref=f"iban-sha256:{digest}", masked=f"{iban[:2]}** **** **** {iban[-4:]}")


# --- input -----------------------------------------------------------------------------------


class AmountField(serializers.CharField):
    """A positive decimal string ("12.50"); a JSON number is refused (floats are not money)."""

    default_error_messages = {"not_a_string": 'Send the amount as a decimal string such as "12.50".'}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault(
            "help_text", 'A decimal string with at most the currency\'s decimals, e.g. "12.50".'
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class _MoneyRequest(serializers.Serializer):
    amount = AmountField()
    currency = serializers.RegexField(r"^[A-Z0-9]{3,8}$", max_length=8)
    method = serializers.ChoiceField(
        choices=Method.choices,
        required=False,
        default=Method.BANK_TRANSFER.value,
        help_text="Only bank_transfer is offered through this API.",
    )

    def validate_method(self, value: str) -> str:
        if value != Method.BANK_TRANSFER:
            raise serializers.ValidationError("Only bank_transfer is offered here.")
        return value

    def validate(self, attrs):
        currency = Currency.objects.filter(code=attrs["currency"]).first()
        if currency is None:
            raise serializers.ValidationError({"currency": ["Unknown currency."]})
        attrs["amount"] = amount_to_minor(attrs["amount"], currency)
        return attrs


class BankAccountSerializer(serializers.Serializer):
    iban = serializers.CharField(max_length=64, help_text="The IBAN to pay to; kept only hashed and masked.")

    def validate_iban(self, value: str) -> str:
        if not _IBAN_CHARS.fullmatch(value):
            raise serializers.ValidationError("Enter a valid IBAN.")
        try:
            return stdnum_iban.validate(value)
        except StdnumValidationError as exc:
            raise serializers.ValidationError("Enter a valid IBAN.") from exc


class WithdrawalRequestSerializer(_MoneyRequest):
    account = BankAccountSerializer()

    def validate(self, attrs):
        attrs = super().validate(attrs)
        attrs["account"] = bank_account_from_iban(attrs["account"]["iban"])
        return attrs


class DepositRequestSerializer(_MoneyRequest):
    pass


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


# --- output ----------------------------------------------------------------------------------


@extend_schema_field(serializers.CharField(help_text='Decimal string, e.g. "12.50".'))
class AmountOutField(serializers.Field):
    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, payment):
        return amount_text(payment)


class PlayerPaymentSerializer(serializers.Serializer):
    """A payment as its player sees it: no risk flags, queue, reviewer or decision notes."""

    id = serializers.IntegerField(read_only=True)
    reference = serializers.UUIDField(read_only=True)
    kind = serializers.ChoiceField(choices=PAYMENT_KINDS, read_only=True)
    method = serializers.ChoiceField(choices=Method.choices, read_only=True)
    amount = AmountOutField()
    currency = serializers.CharField(source="currency_id", read_only=True)
    status = serializers.SerializerMethodField()
    cancellable = serializers.SerializerMethodField()
    account = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(serializers.ChoiceField(choices=PLAYER_STATUSES))
    def get_status(self, payment) -> str:
        return PLAYER_STATUS[payment.status]

    def get_cancellable(self, payment) -> bool:
        return payment.kind == Payment.Kind.WITHDRAWAL and payment.status in PLAYER_CANCELLABLE

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="The masked account, if any."))
    def get_account(self, payment):
        return payment.account.masked if payment.account_id else None


class PlayerDepositSerializer(PlayerPaymentSerializer):
    bank_reference = serializers.CharField(
        source="reference",
        read_only=True,
        help_text="Put this reference on your bank transfer so that it is matched to this deposit.",
    )


class _Person(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)


class _Flag(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    detail = serializers.CharField(read_only=True)


class StaffPaymentSerializer(serializers.Serializer):
    """A payment as a reviewer sees it. Of the player only the id and username: personal data
    stays behind players.view_personal_data in the players API."""

    id = serializers.IntegerField(read_only=True)
    reference = serializers.UUIDField(read_only=True)
    brand = serializers.CharField(source="brand.code", read_only=True)
    player = _Person(read_only=True)
    kind = serializers.ChoiceField(choices=PAYMENT_KINDS, read_only=True)
    method = serializers.ChoiceField(choices=Method.choices, read_only=True)
    card_type = serializers.CharField(read_only=True)
    provider = serializers.CharField(read_only=True)
    provider_reference = serializers.CharField(read_only=True)
    amount = AmountOutField()
    currency = serializers.CharField(source="currency_id", read_only=True)
    status = serializers.ChoiceField(choices=Status.choices, read_only=True)
    risk_flags = _Flag(many=True, read_only=True)
    funds_received = serializers.BooleanField(read_only=True)
    account = serializers.SerializerMethodField()
    queue = serializers.ChoiceField(choices=Queue.choices, read_only=True)
    sla_due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    escalated_at = serializers.DateTimeField(read_only=True, allow_null=True)
    claimed_by = _Person(read_only=True, allow_null=True)
    claimed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    approvals_required = serializers.IntegerField(read_only=True)
    approvals_given = serializers.SerializerMethodField()
    decided_at = serializers.DateTimeField(read_only=True, allow_null=True)
    decision_reason = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="The masked account, if any."))
    def get_account(self, payment):
        return payment.account.masked if payment.account_id else None

    def get_approvals_given(self, payment) -> int:
        given = getattr(payment, "approvals_given", None)
        return payment.approvals.count() if given is None else given

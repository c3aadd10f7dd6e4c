"""The PaymentIQ operator API's format: request fields, amounts, payment methods, answers.

Nothing here touches the database. views.py authenticates the caller; operations.py
resolves players, currencies and payments and calls apps.payments.services. This module
is the only place that knows PaymentIQ's field names: the core sees an amount in minor
units, a currency code, a Method and a card type, never a PaymentIQ body.

Errors are answered HTTP 200 {"success": false, "errCode", "errMsg"} (PaymentIQ's
convention); only authentication (401) and the IP allowlist / a switched-off integration
(403) are HTTP errors. How bad input maps to errCodes (decided here, once):
- the body is not JSON, or not a JSON object: `invalid_request`;
- a required field is absent (or null): `missing_field` (a renamed field is absent);
- a field has the wrong JSON type, is empty, too long, or holds a NUL: `invalid_field`;
- an amount that is not a plain decimal string ("12.50", "-100"; no exponent, no NaN),
  zero where money must move, or beyond 2**63-1 minor units: `invalid_amount`;
- an amount finer than the currency's minor unit ("1.005" GBP): `amount_not_exact`
  (refused whole: rounding would move money nobody asked for);
- a payment method we cannot name (see METHODS below): `unknown_payment_method`.
Fields we do not know are ignored: PaymentIQ adds optional fields over time.

Amounts: decimal strings with the currency's decimals; negative = money leaves the
player. A positive authorize is a deposit, a negative one a withdrawal.

Payment methods. `txName` is PaymentIQ's transaction type name, e.g. "CreditcardDeposit",
"SkrillWithdrawal". Its Deposit/Withdrawal suffix must agree with the amount's sign
(`invalid_amount` otherwise); the rest, lower-cased, picks the Method:
- card:          creditcard, card, debitcard, visa, mastercard, maestro, applepay, googlepay
- bank_transfer: bank, banklocal, bankintl, bankdomestic, wiretransfer, sepa, trustly,
                 zimpler, sofort, instadebit, interac, openbanking, brite
- ewallet:       ewallet, skrill, neteller, paypal, ecopayz, muchbetter, astropay,
                 mifinity, jeton, paysafecard, siru
- crypto:        crypto, cryptocurrency, bitcoin, btc, ethereum, litecoin, tether
Anything else: `unknown_payment_method` (a new method is added here on purpose, not
guessed). `provider`, `pspService` and `txTypeId` are kept in the fingerprint but do not
pick the method: txName is the one field that names it on every call.

Card type ("CreditcardDeposit" is PaymentIQ's name for every card, not only credit cards):
from `attributes.cardType` (case-insensitive): CREDIT -> credit, DEBIT -> debit, PREPAID
-> debit (a prepaid card lends nothing). A card deposit without a known cardType is
refused (`card_type_unknown`): jurisdictions ban credit cards (GB), so an unknown card
cannot be let through as if it were a debit card. Card withdrawals take the card type
when given and do not need it.
"""

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from apps.core.money import AmountNotExact, decimal_to_minor, minor_to_decimal

MAX_MINOR = 2**63 - 1
MAX_AMOUNT_LENGTH = 40


class ErrCode:
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "ip_not_allowed"
    INACTIVE = "integration_inactive"
    TOO_LARGE = "request_too_large"
    RATE_LIMITED = "rate_limited"
    INVALID_REQUEST = "invalid_request"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    INVALID_AMOUNT = "invalid_amount"
    AMOUNT_NOT_EXACT = "amount_not_exact"
    CURRENCY_NOT_OFFERED = "currency_not_offered"
    CURRENCY_MISMATCH = "currency_mismatch"
    UNKNOWN_METHOD = "unknown_payment_method"
    CARD_TYPE_UNKNOWN = "card_type_unknown"
    USER_NOT_FOUND = "user_not_found"
    SESSION_INVALID = "session_invalid"
    DUPLICATE = "duplicate_transaction"
    TX_NOT_FOUND = "transaction_not_found"
    AUTH_CODE_MISMATCH = "auth_code_mismatch"
    TRANSFER_AFTER_CANCEL = "transfer_after_cancel"
    TRANSFER_AFTER_REJECT = "transfer_after_reject"
    CANCEL_AFTER_TRANSFER = "cancel_after_transfer"
    INTERNAL = "internal_error"


class Refusal(Exception):  # noqa: N818 - a refusal is an answer, not a failure
    """Answer success false with this errCode. `incident` ({code, detail}) asks for a
    PaymentIncident: the provider did something the protocol refuses but a person must see."""

    def __init__(self, err_code: str, err_msg: str = "", *, incident: dict | None = None, payment=None):
        super().__init__(f"{err_code}: {err_msg}" if err_msg else err_code)
        self.err_code = err_code
        self.err_msg = err_msg or err_code.replace("_", " ")
        self.incident = incident
        self.payment = payment


# --- request fields ---------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    kind: str  # "str", "id" (str or int), "amount", "object", "any"
    required: bool = True
    max_length: int = 128


_USER = Field("str", max_length=20)
_TX = Field("str", max_length=128)
_AMOUNT = Field("amount")
_CURRENCY = Field("str", max_length=3)
_OPT_STR = Field("str", required=False)
_OPT_LONG = Field("str", required=False, max_length=255)

ACTIONS: dict[str, dict[str, Field]] = {
    "verifyuser": {"sessionId": Field("str", max_length=255), "userId": _USER},
    "authorize": {
        "userId": _USER,
        "txAmount": _AMOUNT,
        "txAmountCy": _CURRENCY,
        "txId": _TX,
        "txTypeId": Field("id", max_length=32),
        "txName": Field("str", max_length=64),
        "provider": Field("str", max_length=64),
        "pspService": Field("str", required=False, max_length=64),
        "originTxId": _OPT_STR,
        "accountId": _OPT_STR,
        "maskedAccount": Field("str", required=False, max_length=64),
        "attributes": Field("object", required=False),
    },
    "transfer": {
        "userId": _USER,
        "txAmount": _AMOUNT,
        "txAmountCy": _CURRENCY,
        "txId": _TX,
        "authCode": _OPT_LONG,
        "txTypeId": Field("id", required=False, max_length=32),
        "txName": Field("str", required=False, max_length=64),
        "provider": Field("str", required=False, max_length=64),
        "txRefId": _OPT_LONG,
        "fee": Field("any", required=False),
        "feeCy": Field("any", required=False),
    },
    "cancel": {
        "userId": _USER,
        "txId": _TX,
        "authCode": _OPT_LONG,
        "txAmount": Field("amount", required=False),
        "txAmountCy": Field("str", required=False, max_length=3),
        "statusCode": Field("any", required=False),
        "pspStatusCode": Field("any", required=False),
    },
    "notification": {},
}
ACTIONS["lookupuser"] = ACTIONS["verifyuser"]

# What makes two calls with one txId "the same call": a replay must match these exactly.
FINGERPRINTED = {
    "authorize": (
        "userId",
        "txAmount",
        "txAmountCy",
        "txTypeId",
        "txName",
        "provider",
        "pspService",
        "accountId",
        "maskedAccount",
        "attributes.cardType",
    ),
    "transfer": ("userId", "txAmount", "txAmountCy", "authCode"),
    "cancel": ("userId", "authCode", "txAmount", "txAmountCy"),
}


def body_parse(body: bytes) -> dict:
    """The request body as a JSON object, or Refusal(invalid_request)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise Refusal(ErrCode.INVALID_REQUEST, "The body is not JSON.") from exc
    if not isinstance(data, dict):
        raise Refusal(ErrCode.INVALID_REQUEST, "The body is not a JSON object.")
    return data


def fields_check(action: str, data: dict) -> dict:
    """The action's fields, checked (absent optional ones as None); Refusal otherwise."""
    spec = ACTIONS[action]
    missing = [name for name, field in spec.items() if field.required and data.get(name) is None]
    if missing:
        raise Refusal(ErrCode.MISSING_FIELD, f"Missing {', '.join(sorted(missing))}.")
    checked = {}
    for name, field in spec.items():
        value = data.get(name)
        if value is not None:
            _type_check(name, value, field)
        checked[name] = value
    return checked


def _type_check(name: str, value, field: Field) -> None:
    if field.kind == "any":
        return
    if field.kind == "object":
        if not isinstance(value, dict):
            raise Refusal(ErrCode.INVALID_FIELD, f"{name} is not an object.")
        return
    if field.kind == "id":
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_MINOR:
            return
        if not isinstance(value, str):
            raise Refusal(ErrCode.INVALID_FIELD, f"{name} is not a string or an integer.")
    elif field.kind == "amount":
        if not isinstance(value, str):
            raise Refusal(ErrCode.INVALID_FIELD, f"{name} is not a decimal string.")
    elif not isinstance(value, str):
        raise Refusal(ErrCode.INVALID_FIELD, f"{name} is not a string.")
    limit = MAX_AMOUNT_LENGTH if field.kind == "amount" else field.max_length
    if not value or len(value) > limit or "\x00" in value:
        raise Refusal(ErrCode.INVALID_FIELD, f"{name} is empty, too long or not text.")


# --- values -----------------------------------------------------------------------------

_USER_ID = re.compile(r"[1-9][0-9]{0,17}")
_AMOUNT_TEXT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")


def player_id_parse(user_id: str) -> int | None:
    """Our player id from PaymentIQ's userId (str(player.pk)), or None if it cannot be one."""
    return int(user_id) if _USER_ID.fullmatch(user_id) else None


def currency_code_check(code: str) -> str:
    if not _CURRENCY_CODE.fullmatch(code):
        raise Refusal(ErrCode.CURRENCY_NOT_OFFERED, f"{code!r} is not an ISO 4217 currency code.")
    return code


def amount_to_minor(text: str, *, currency_exponent: int) -> int:
    """A decimal string to signed minor units, exactly, or Refusal."""
    if not _AMOUNT_TEXT.fullmatch(text):
        raise Refusal(ErrCode.INVALID_AMOUNT, f"{text!r} is not a decimal amount.")
    try:
        minor = decimal_to_minor(text, currency_exponent=currency_exponent)
    except AmountNotExact as exc:
        code = ErrCode.INVALID_AMOUNT if exc.code == "amount_out_of_range" else ErrCode.AMOUNT_NOT_EXACT
        raise Refusal(code, exc.message) from exc
    if abs(minor) > MAX_MINOR:
        raise Refusal(ErrCode.INVALID_AMOUNT, "The amount is out of range.")
    return minor


def minor_to_text(minor: int, *, currency_exponent: int) -> str:
    """Minor units as PaymentIQ's decimal string ("12.50"), never in exponent notation."""
    return format(minor_to_decimal(minor, currency_exponent=currency_exponent), "f")


def fingerprint(action: str, fields: dict) -> str:
    """SHA-256 of the call's meaningful fields; amounts compared as numbers ("10.0" == "10.00")."""
    meaningful = {}
    for name in FINGERPRINTED.get(action, ()):
        if name == "attributes.cardType":  # picks credit or debit: part of what was asked
            value = (fields.get("attributes") or {}).get("cardType")
        else:
            value = fields.get(name)
        if name == "txAmount" and isinstance(value, str):
            with contextlib.suppress(InvalidOperation):  # checked before; kept as sent otherwise
                value = str(Decimal(value).normalize())
        meaningful[name] = None if value is None else str(value)
    raw = json.dumps(meaningful, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


# --- payment methods --------------------------------------------------------------------

METHODS = {
    "card": (
        "creditcard",
        "card",
        "debitcard",
        "visa",
        "mastercard",
        "maestro",
        "applepay",
        "googlepay",
    ),
    "bank_transfer": (
        "bank",
        "banklocal",
        "bankintl",
        "bankdomestic",
        "wiretransfer",
        "sepa",
        "trustly",
        "zimpler",
        "sofort",
        "instadebit",
        "interac",
        "openbanking",
        "brite",
    ),
    "ewallet": (
        "ewallet",
        "skrill",
        "neteller",
        "paypal",
        "ecopayz",
        "muchbetter",
        "astropay",
        "mifinity",
        "jeton",
        "paysafecard",
        "siru",
    ),
    "crypto": ("crypto", "cryptocurrency", "bitcoin", "btc", "ethereum", "litecoin", "tether"),
}
_METHOD_OF = {name: method for method, names in METHODS.items() for name in names}
CARD_TYPES = {"credit": "credit", "debit": "debit", "prepaid": "debit"}


@dataclass(frozen=True)
class PaymentMethod:
    method: str  # apps.payments.models.Method value
    card_type: str  # "", "credit" or "debit"


def payment_method(tx_name: str, attributes: dict | None, *, withdrawal: bool) -> PaymentMethod:
    """The Method and card type of an authorize, from txName and attributes.cardType."""
    name = tx_name.strip().lower()
    for suffix, is_withdrawal in (("deposit", False), ("withdrawal", True)):
        if name.endswith(suffix):
            if is_withdrawal != withdrawal:
                raise Refusal(
                    ErrCode.INVALID_AMOUNT,
                    f"{tx_name} is a {suffix} but the amount says "
                    f"{'withdrawal' if withdrawal else 'deposit'}.",
                )
            name = name[: -len(suffix)]
            break
    method = _METHOD_OF.get(name)
    if method is None:
        raise Refusal(ErrCode.UNKNOWN_METHOD, f"{tx_name!r} is not a payment method we accept.")
    if method != "card":
        return PaymentMethod(method, "")
    raw = (attributes or {}).get("cardType")
    card_type = CARD_TYPES.get(raw.strip().lower()) if isinstance(raw, str) else None
    if card_type is None:
        if withdrawal:
            return PaymentMethod(method, "")
        raise Refusal(ErrCode.CARD_TYPE_UNKNOWN, "attributes.cardType must be CREDIT, DEBIT or PREPAID.")
    return PaymentMethod(method, card_type)


# --- answers ----------------------------------------------------------------------------


def echo(value, limit: int = 128) -> str:
    """A request value safe to send back (an id we could not parse is echoed only if short)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and len(value) <= limit else ""


def success(user_id: str, **fields) -> dict:
    return {"userId": user_id, "success": True, **fields}


def failure(user_id: str, err_code: str, err_msg: str) -> dict:
    return {"userId": user_id, "success": False, "errCode": err_code, "errMsg": err_msg}

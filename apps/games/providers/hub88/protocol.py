"""The Hub88 seamless-wallet protocol: statuses, request fields, amounts, the answer body.

Nothing here touches the database. views.py resolves the brand, checks the signature and
calls operations.py, which calls the wallet and games services.

How bad input maps to statuses (decided here, once):
- the body is not JSON, not a JSON object, or lacks a required field: RS_ERROR_WRONG_SYNTAX;
- a field is present with the wrong JSON type, or with a value no request could mean
  (an empty id, a string longer than we store, a NUL character, a negative amount, an
  amount beyond Int64): RS_ERROR_WRONG_TYPES;
- an amount finer than the wallet currency's minor unit (e.g. 356001 for EUR, where
  only multiples of 1000 are whole cents): RS_ERROR_WRONG_TYPES as well. The body is
  well-formed; it is the value that is not of the type "an amount of this currency",
  and refusing it whole is the only exact answer (rounding would move money Hub88 did
  not ask for).
Fields we do not know are ignored: Hub88 adds optional fields over time.
"""

import json
import re
from dataclasses import dataclass

from apps.core.money import AmountNotExact, units_to_minor

# Hub88 amounts are integers of 1/100000 of the currency.
UNIT_EXPONENT = 5
INT64_MAX = 2**63 - 1


class Status:
    OK = "RS_OK"
    UNKNOWN = "RS_ERROR_UNKNOWN"
    INVALID_PARTNER = "RS_ERROR_INVALID_PARTNER"
    INVALID_TOKEN = "RS_ERROR_INVALID_TOKEN"  # noqa: S105 - a status name, not a secret
    TOKEN_EXPIRED = "RS_ERROR_TOKEN_EXPIRED"  # noqa: S105 - a status name, not a secret
    INVALID_GAME = "RS_ERROR_INVALID_GAME"
    WRONG_CURRENCY = "RS_ERROR_WRONG_CURRENCY"
    NOT_ENOUGH_MONEY = "RS_ERROR_NOT_ENOUGH_MONEY"
    USER_DISABLED = "RS_ERROR_USER_DISABLED"
    INVALID_SIGNATURE = "RS_ERROR_INVALID_SIGNATURE"
    WRONG_SYNTAX = "RS_ERROR_WRONG_SYNTAX"
    WRONG_TYPES = "RS_ERROR_WRONG_TYPES"
    DUPLICATE_TRANSACTION = "RS_ERROR_DUPLICATE_TRANSACTION"
    TRANSACTION_DOES_NOT_EXIST = "RS_ERROR_TRANSACTION_DOES_NOT_EXIST"
    TRANSACTION_ROLLED_BACK = "RS_ERROR_TRANSACTION_ROLLED_BACK"
    LIMIT_REACHED = "RS_ERROR_LIMIT_REACHED"


class Refusal(Exception):  # noqa: N818 - a refusal is an answer, not a failure
    """Answer the call with this status (raised anywhere while handling it)."""

    def __init__(self, status: str, detail: str = ""):
        super().__init__(f"{status}: {detail}" if detail else status)
        self.status = status


# --- request fields ---------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    kind: str  # "str", "int", "bool", "any"
    required: bool = True
    nullable: bool = False
    max_length: int = 128


_STR = Field("str")
_OPT_STR = Field("str", required=False, nullable=True)
_OPT_BOOL = Field("bool", required=False, nullable=True)
_AMOUNT = Field("int")
_COMMON = {"request_uuid": _STR, "token": Field("str", max_length=255)}
_MOVEMENT = {
    **_COMMON,
    "user": Field("str", max_length=64),
    "supplier_user": Field("str", required=False, nullable=True, max_length=255),
    "game_code": _STR,
    "currency": Field("str", max_length=8),
    "transaction_uuid": _STR,
    "round": _STR,
    "round_closed": _OPT_BOOL,
    "meta": Field("any", required=False, nullable=True),
}

ENDPOINTS: dict[str, dict[str, Field]] = {
    "info": {"request_uuid": _STR, "user": Field("str", max_length=64)},
    "balance": {
        **_COMMON,
        "game_code": _OPT_STR,
        "user": Field("str", required=False, nullable=True, max_length=64),
        "supplier_user": Field("str", required=False, nullable=True, max_length=255),
        "currency": Field("str", required=False, nullable=True, max_length=8),
    },
    "bet": {
        **_MOVEMENT,
        "amount": _AMOUNT,
        "is_free": _OPT_BOOL,
        "bet": Field("str", required=False, nullable=True, max_length=255),
        "is_supplier_promo": _OPT_BOOL,
        "reward_uuid": _OPT_STR,
    },
    "win": {
        **_MOVEMENT,
        "amount": _AMOUNT,
        "reference_transaction_uuid": _STR,
        "is_free": _OPT_BOOL,
        "is_supplier_promo": _OPT_BOOL,
    },
    "rollback": {**_MOVEMENT, "reference_transaction_uuid": _STR},
}


def body_parse(body: bytes) -> dict:
    """The request body as a JSON object, or Refusal(WRONG_SYNTAX)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise Refusal(Status.WRONG_SYNTAX, "the body is not JSON") from exc
    if not isinstance(data, dict):
        raise Refusal(Status.WRONG_SYNTAX, "the body is not a JSON object")
    return data


def fields_check(endpoint: str, data: dict) -> dict:
    """The endpoint's fields, checked: missing -> WRONG_SYNTAX, wrong type or value -> WRONG_TYPES.

    Returns only the known fields, absent optional ones as None.
    """
    spec = ENDPOINTS[endpoint]
    missing = [name for name, field in spec.items() if field.required and name not in data]
    if missing:
        raise Refusal(Status.WRONG_SYNTAX, f"missing {', '.join(sorted(missing))}")
    checked = {}
    for name, field in spec.items():
        value = data.get(name)
        if value is None:
            if name in data and not field.nullable:
                raise Refusal(Status.WRONG_TYPES, f"{name} is null")
            checked[name] = None
            continue
        _type_check(name, value, field)
        checked[name] = value
    return checked


def _type_check(name: str, value, field: Field) -> None:
    if field.kind == "any":
        return
    if field.kind == "bool":
        if not isinstance(value, bool):
            raise Refusal(Status.WRONG_TYPES, f"{name} is not a boolean")
        return
    if field.kind == "int":
        # JSON true is not 1 and 100.0 is not 100: only integers are amounts.
        if isinstance(value, bool) or not isinstance(value, int):
            raise Refusal(Status.WRONG_TYPES, f"{name} is not an integer")
        if not 0 <= value <= INT64_MAX:
            raise Refusal(Status.WRONG_TYPES, f"{name} is out of range")
        return
    if not isinstance(value, str):
        raise Refusal(Status.WRONG_TYPES, f"{name} is not a string")
    if not value or len(value) > field.max_length or "\x00" in value:
        raise Refusal(Status.WRONG_TYPES, f"{name} is empty, too long or not text")


# --- values -----------------------------------------------------------------------------

_PLAYER_ID = re.compile(r"[1-9][0-9]{0,17}")


def player_id_parse(user) -> int | None:
    """Our player id from Hub88's `user` (str(player.pk)), or None if it cannot be one."""
    if isinstance(user, str) and _PLAYER_ID.fullmatch(user):
        return int(user)
    return None


def amount_to_minor(units: int, *, currency_exponent: int) -> int:
    """Hub88 units to the currency's minor units, exactly, or Refusal(WRONG_TYPES)."""
    try:
        return units_to_minor(units, unit_exponent=UNIT_EXPONENT, currency_exponent=currency_exponent)
    except AmountNotExact as exc:
        raise Refusal(Status.WRONG_TYPES, exc.message) from exc


def balance_to_units(minor: int, *, currency_exponent: int) -> int:
    """Minor units to Hub88 units. Exact for currencies of up to 5 decimals; for finer ones
    (BTC has 8) the balance is rounded down, so we never report money that cannot be bet."""
    shift = UNIT_EXPONENT - currency_exponent
    if shift >= 0:
        return minor * 10**shift
    return minor // 10 ** (-shift)


# --- the answer -------------------------------------------------------------------------


@dataclass
class Answer:
    """Every response: {user, status, request_uuid, currency, balance}."""

    status: str = Status.UNKNOWN
    user: str = ""
    request_uuid: str = ""
    currency: str = ""
    balance: int = 0

    def body(self) -> bytes:
        return json.dumps(
            {
                "user": self.user,
                "status": self.status,
                "request_uuid": self.request_uuid,
                "currency": self.currency,
                "balance": self.balance,
            },
            separators=(",", ":"),
        ).encode()

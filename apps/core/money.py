"""Exact money: integer minor units per currency, converted at the edges.

Amounts inside the product are Python ints of the currency's minor unit (EUR cents,
BTC satoshis). Protocols speak other units — Hub88 integers of 1/100000, PaymentIQ
decimal strings — and are converted here exactly, or refused.
"""

from decimal import Decimal, InvalidOperation

from apps.core.exceptions import DomainError


class AmountNotExact(DomainError):
    code = "amount_not_exact"
    default_message = "The amount does not fit the currency's precision."


def units_to_minor(units: int, *, unit_exponent: int, currency_exponent: int) -> int:
    """Convert an integer amount in units of 10**-unit_exponent to minor units, exactly.

    units_to_minor(356000, unit_exponent=5, currency_exponent=2) == 356 (3.56).
    Refuses amounts with more precision than the currency has (1 unit of 1/100000 EUR).
    """
    if isinstance(units, bool) or not isinstance(units, int):
        raise AmountNotExact("The amount must be an integer.", code="amount_not_integer")
    shift = unit_exponent - currency_exponent
    if shift <= 0:
        return units * 10 ** (-shift)
    minor, rest = divmod(units, 10**shift)
    if rest:
        raise AmountNotExact(f"{units} is finer than the currency's {currency_exponent} decimals.")
    return minor


def minor_to_units(minor: int, *, unit_exponent: int, currency_exponent: int) -> int:
    """The inverse of units_to_minor; exact whenever the protocol is at least as fine."""
    shift = unit_exponent - currency_exponent
    if shift >= 0:
        return minor * 10**shift
    value, rest = divmod(minor, 10 ** (-shift))
    if rest:
        raise AmountNotExact(f"{minor} minor units cannot be expressed in this protocol's units.")
    return value


def decimal_to_minor(value: str | Decimal, *, currency_exponent: int) -> int:
    """Parse a decimal amount ("12.50") into minor units exactly; refuse finer amounts."""
    try:
        amount = Decimal(value) if isinstance(value, str) else value
    except (InvalidOperation, ValueError) as exc:
        raise AmountNotExact(f"{value!r} is not a decimal amount.", code="amount_invalid") from exc
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise AmountNotExact(f"{value!r} is not a decimal amount.", code="amount_invalid")
    # Decided on the digits themselves, not by arithmetic: scaleb() rounds to the context's
    # 28 digits, so "1.00000000000000000000000000001" would become 1.00 and be accepted.
    sign, digits, exponent = amount.as_tuple()
    shift = exponent + currency_exponent
    if shift < 0:
        kept, dropped = digits[:shift], digits[shift:]
        if any(dropped):
            raise AmountNotExact(f"{value} has more than {currency_exponent} decimals.")
        digits, shift = kept, 0
    if len(digits) + shift > 40:  # far past BIGINT; and "1E+999999999" must not be computed
        raise AmountNotExact(f"{value} is out of range.", code="amount_out_of_range")
    minor = int("".join(map(str, digits)) or "0") * 10**shift
    return -minor if sign else minor


def minor_to_decimal(minor: int, *, currency_exponent: int) -> Decimal:
    """Minor units as a Decimal with exactly the currency's decimals (1250, 2 -> 12.50)."""
    return Decimal(minor).scaleb(-currency_exponent).quantize(Decimal(1).scaleb(-currency_exponent))


def money_format(minor: int, *, currency_exponent: int, currency_code: str) -> str:
    """'12.50 EUR' for 1250 EUR cents; fixed-point, never scientific notation."""
    return f"{format(minor_to_decimal(minor, currency_exponent=currency_exponent), 'f')} {currency_code}"

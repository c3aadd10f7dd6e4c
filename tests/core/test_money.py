"""Exact conversions at the edges: a decimal string becomes minor units exactly, or is refused."""

import pytest

from apps.core.money import AmountNotExact, decimal_to_minor, minor_to_decimal


@pytest.mark.parametrize(
    ("text", "exponent", "minor"),
    [
        ("12.50", 2, 1250),
        ("12.5", 2, 1250),
        ("-3.10", 2, -310),
        ("0", 2, 0),
        ("1E+3", 2, 100_000),
        ("1.230", 2, 123),
        ("5.0", 0, 5),
        ("0.00000001", 8, 1),
        ("92233720368547758.07", 2, 2**63 - 1),
    ],
)
def test_decimal_strings_convert_exactly(text, exponent, minor):
    assert decimal_to_minor(text, currency_exponent=exponent) == minor


@pytest.mark.parametrize(
    ("text", "exponent", "code"),
    [
        ("0.001", 2, "amount_not_exact"),
        ("5.1", 0, "amount_not_exact"),
        # Past the default 28-digit context: rounding would have accepted it as 1.00.
        ("1.00000000000000000000000000001", 2, "amount_not_exact"),
        ("1E+999999999", 2, "amount_out_of_range"),
        ("NaN", 2, "amount_invalid"),
        ("Infinity", 2, "amount_invalid"),
        ("twelve", 2, "amount_invalid"),
    ],
)
def test_inexact_or_impossible_amounts_are_refused(text, exponent, code):
    with pytest.raises(AmountNotExact) as refused:
        decimal_to_minor(text, currency_exponent=exponent)
    assert refused.value.code == code


def test_minor_units_read_back_with_the_currencys_decimals():
    assert format(minor_to_decimal(1250, currency_exponent=2), "f") == "12.50"
    assert format(minor_to_decimal(1, currency_exponent=8), "f") == "0.00000001"

"""Exact numbers written one way. Pure."""

from decimal import Decimal


def plain_decimal(value: Decimal) -> Decimal:
    """11600, 11600.0, 1.16E+4 and 11600.0000 are one value: one spelling, « 11600 »."""
    return Decimal(format(value.normalize(), "f"))


def french_number(value) -> str:
    """12.5 → « 12,5 »; 7.00 → « 7 » (decimal comma, no useless zeros)."""
    if value is None:
        return ""
    text = format(Decimal(str(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


def french_percent(value) -> str:
    """72.50 → « 72,5 % »."""
    return f"{french_number(value)} %"

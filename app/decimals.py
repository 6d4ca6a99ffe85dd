"""Exact numbers written one way. Pure."""

from decimal import Decimal


def plain_decimal(value: Decimal) -> Decimal:
    """11600, 11600.0, 1.16E+4 and 11600.0000 are one value: one spelling, « 11600 »."""
    return Decimal(format(value.normalize(), "f"))

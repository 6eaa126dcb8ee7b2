"""Splitting a bill between people."""

from calc import divide, multiply


def tip_amount(bill: float, tip_percent: float) -> float:
    return round(multiply(bill, tip_percent / 100), 2)


def split_bill(bill: float, people: int, tip_percent: float = 18) -> float:
    """Each person's share of the bill plus tip, rounded to the cent."""
    if people < 1:
        raise ValueError("people must be at least 1")
    total = bill + tip_amount(bill, tip_percent)
    return round(divide(total, people), 2)

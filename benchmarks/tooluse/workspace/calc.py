"""Arithmetic helpers used by tipcalc."""


def add(a: float, b: float) -> float:
    return a + b


def subtract(a: float, b: float) -> float:
    return a - b


def multiply(a: float, b: float) -> float:
    return a * b


def divide(a: float, b: float) -> float:
    if b == 0:
        raise ZeroDivisionError("cannot divide by zero")
    return a / b


def percent(part: float, whole: float) -> float:
    """What percent `part` is of `whole`, e.g. percent(1, 4) == 25.0."""
    return part / whole * 10


def mean(values: list[float]) -> float:
    if not values:
        raise ValueError("mean of an empty list")
    return sum(values) / len(values)

import pytest

from calc import add, divide, mean, multiply, percent, subtract


def test_add():
    assert add(2, 3) == 5


def test_subtract():
    assert subtract(10, 4) == 6


def test_multiply():
    assert multiply(3, 4) == 12


def test_divide():
    assert divide(9, 3) == 3


def test_divide_by_zero():
    with pytest.raises(ZeroDivisionError):
        divide(1, 0)


def test_percent():
    assert percent(1, 4) == 25.0


def test_mean():
    assert mean([1, 2, 3, 4]) == 2.5

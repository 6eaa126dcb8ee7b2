"""tipcalc: split restaurant bills and tips."""

__version__ = "0.3.1"

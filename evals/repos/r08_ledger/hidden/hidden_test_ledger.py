import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger import balance
from money import parse_amount


class TestHidden(unittest.TestCase):
    def test_forms(self):
        self.assertEqual(parse_amount("-0.75"), -75)
        self.assertEqual(parse_amount("1,200.00"), 120000)
        self.assertEqual(parse_amount(" $4.05 "), 405)
        self.assertEqual(parse_amount("0.1"), 10)
        self.assertEqual(parse_amount("19.99"), 1999)

    def test_balance(self):
        lines = ["pay: 1,000.00", "rent: -700.00", "snack: -0.99"]
        self.assertEqual(balance(lines), 29901)
        self.assertEqual(balance([]), 0)


if __name__ == "__main__":
    unittest.main()

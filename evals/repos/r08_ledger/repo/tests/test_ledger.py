import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger import balance
from money import format_cents, parse_amount


class TestLedger(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(parse_amount("12.50"), 1250)
        self.assertEqual(parse_amount("$3"), 300)

    def test_balance(self):
        self.assertEqual(balance(["salary: 100.00", "coffee: -2.50"]), 9750)

    def test_format(self):
        self.assertEqual(format_cents(9750), "$97.50")


if __name__ == "__main__":
    unittest.main()

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from unittest import mock

import orders
from discounts import apply_discount


class TestHidden(unittest.TestCase):
    def test_helper(self):
        self.assertEqual(apply_discount(100, 15), 85)
        self.assertEqual(apply_discount(9.99, 33), 6.69)
        for bad in (-1, 100.5):
            with self.assertRaises(ValueError):
                apply_discount(10, bad)

    def test_orders_use_it(self):
        with mock.patch.object(orders, "apply_discount", return_value=42) as fake:
            self.assertEqual(orders.member_price(20), 42)
            self.assertEqual(orders.sale_price(10, 5), 42)
        self.assertEqual(fake.call_count, 2)

    def test_behaviour(self):
        self.assertEqual(orders.member_price(9.99), 8.99)
        self.assertEqual(orders.sale_price(80, 0), 80)


if __name__ == "__main__":
    unittest.main()

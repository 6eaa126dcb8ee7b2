import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orders import member_price, sale_price


class TestOrders(unittest.TestCase):
    def test_member(self):
        self.assertEqual(member_price(20), 18)

    def test_sale(self):
        self.assertEqual(sale_price(10, 25), 7.5)

    def test_bad(self):
        with self.assertRaises(ValueError):
            sale_price(10, 101)


if __name__ == "__main__":
    unittest.main()

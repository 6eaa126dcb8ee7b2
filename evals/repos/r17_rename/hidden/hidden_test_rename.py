import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pathlib import Path

import pricing
from cart import Cart

ROOT = Path(__file__).resolve().parent.parent


class TestHidden(unittest.TestCase):
    def test_new_name(self):
        self.assertEqual(pricing.calculate_total([1, 2], [3, 4]), 11)

    def test_old_name_gone(self):
        self.assertFalse(hasattr(pricing, "calc_tot"))
        for name in ("pricing.py", "cart.py"):
            self.assertNotIn("calc_tot", (ROOT / name).read_text())

    def test_cart(self):
        c = Cart()
        c.add(3, 3)
        self.assertEqual(c.total(), 9)
        self.assertEqual(Cart().total(), 0)


if __name__ == "__main__":
    unittest.main()

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cart import Cart


class TestCart(unittest.TestCase):
    def test_total(self):
        c = Cart()
        c.add(2.5, 2)
        c.add(1)
        self.assertEqual(c.total(), 6)


if __name__ == "__main__":
    unittest.main()

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from invoice import tax, total_with_tax


class TestInvoice(unittest.TestCase):
    def test_tax(self):
        self.assertEqual(tax(100), 20)

    def test_total(self):
        self.assertEqual(total_with_tax([10, 40]), 60)


if __name__ == "__main__":
    unittest.main()

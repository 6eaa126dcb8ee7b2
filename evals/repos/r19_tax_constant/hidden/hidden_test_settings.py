import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from unittest import mock

import invoice
import settings


class TestHidden(unittest.TestCase):
    def test_constant(self):
        self.assertEqual(settings.TAX_RATE, 0.2)

    def test_uses_setting(self):
        with mock.patch.object(settings, "TAX_RATE", 0.5):
            self.assertEqual(invoice.tax(10), 5)
            self.assertEqual(invoice.total_with_tax([10, 10]), 30)

    def test_default(self):
        self.assertEqual(invoice.tax(3), 0.6)
        self.assertEqual(invoice.total_with_tax([5]), 6)


if __name__ == "__main__":
    unittest.main()

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inventory import Inventory
from report import reorder_list


class TestHidden(unittest.TestCase):
    def setUp(self):
        self.inv = Inventory()
        self.inv.add("washer", 4)
        self.inv.add("bolt", 9)
        self.inv.add("nut", 2)

    def test_remove(self):
        self.inv.remove("bolt", 9)
        self.assertEqual(self.inv.count("bolt"), 0)

    def test_too_many(self):
        with self.assertRaises(ValueError):
            self.inv.remove("nut", 3)
        self.assertEqual(self.inv.count("nut"), 2)

    def test_unknown(self):
        with self.assertRaises(ValueError):
            self.inv.remove("gear", 1)

    def test_reorder_sorted(self):
        self.assertEqual(reorder_list(self.inv, 5), ["nut", "washer"])
        self.assertEqual(reorder_list(self.inv, 1), [])


if __name__ == "__main__":
    unittest.main()

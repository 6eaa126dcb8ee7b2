import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inventory import Inventory
from report import reorder_list


class TestInventory(unittest.TestCase):
    def test_remove(self):
        inv = Inventory()
        inv.add("bolt", 5)
        inv.remove("bolt", 2)
        self.assertEqual(inv.count("bolt"), 3)

    def test_reorder(self):
        inv = Inventory()
        inv.add("nut", 1)
        inv.add("bolt", 10)
        self.assertEqual(reorder_list(inv, 5), ["nut"])


if __name__ == "__main__":
    unittest.main()

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from listutil import chunks, dedupe


class TestHidden(unittest.TestCase):
    def test_order(self):
        self.assertEqual(dedupe(["b", "a", "b", "c", "a"]), ["b", "a", "c"])
        self.assertEqual(dedupe([9, 8, 7, 9]), [9, 8, 7])

    def test_empty(self):
        self.assertEqual(dedupe([]), [])

    def test_returns_list(self):
        self.assertIsInstance(dedupe((1, 1)), list)

    def test_chunks(self):
        self.assertEqual(chunks([1, 2, 3, 4], 2), [[1, 2], [3, 4]])


if __name__ == "__main__":
    unittest.main()

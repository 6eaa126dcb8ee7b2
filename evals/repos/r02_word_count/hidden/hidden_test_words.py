import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from words import word_counts


class TestHidden(unittest.TestCase):
    def test_case(self):
        self.assertEqual(word_counts("Apple apple APPLE pie"), {"apple": 3, "pie": 1})

    def test_empty(self):
        self.assertEqual(word_counts(""), {})

    def test_plain(self):
        self.assertEqual(word_counts("x y x"), {"x": 2, "y": 1})


if __name__ == "__main__":
    unittest.main()

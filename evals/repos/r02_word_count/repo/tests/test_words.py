import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from words import word_counts


class TestWords(unittest.TestCase):
    def test_simple(self):
        self.assertEqual(word_counts("a b a"), {"a": 2, "b": 1})

    def test_case(self):
        self.assertEqual(word_counts("The cat saw the dog"), {"the": 2, "cat": 1, "saw": 1, "dog": 1})


if __name__ == "__main__":
    unittest.main()

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fizz import fizzbuzz


class TestHidden(unittest.TestCase):
    def test_fifteen(self):
        result = fizzbuzz(15)
        self.assertEqual(len(result), 15)
        self.assertEqual(result[-1], "FizzBuzz")
        self.assertEqual(result[2], "Fizz")

    def test_one(self):
        self.assertEqual(fizzbuzz(1), ["1"])

    def test_zero(self):
        self.assertEqual(fizzbuzz(0), [])


if __name__ == "__main__":
    unittest.main()

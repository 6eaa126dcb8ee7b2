import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fizz import fizzbuzz


class TestFizz(unittest.TestCase):
    def test_five(self):
        self.assertEqual(fizzbuzz(5), ["1", "2", "Fizz", "4", "Buzz"])


if __name__ == "__main__":
    unittest.main()

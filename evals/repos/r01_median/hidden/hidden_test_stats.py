import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stats import mean, median


class TestHidden(unittest.TestCase):
    def test_odd(self):
        self.assertEqual(median([5, 1, 9]), 5)
        self.assertEqual(median([7]), 7)

    def test_even(self):
        self.assertEqual(median([4, 1, 3, 2]), 2.5)
        self.assertEqual(median([10, 20]), 15)
        self.assertEqual(median([1, 1, 2, 2, 3, 100]), 2)

    def test_does_not_mutate(self):
        data = [3, 1, 2, 0]
        median(data)
        self.assertEqual(data, [3, 1, 2, 0])

    def test_mean(self):
        self.assertEqual(mean([2, 4]), 3)


if __name__ == "__main__":
    unittest.main()

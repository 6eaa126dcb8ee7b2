import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import math

from report import total_area, total_perimeter
from shapes import Circle, Rect


class TestShapes(unittest.TestCase):
    def test_rect(self):
        self.assertEqual(Rect(2, 3).perimeter(), 10)

    def test_total(self):
        self.assertAlmostEqual(total_perimeter([Rect(1, 1), Circle(1)]), 4 + 2 * math.pi)

    def test_area(self):
        self.assertEqual(total_area([Rect(2, 2)]), 4)


if __name__ == "__main__":
    unittest.main()

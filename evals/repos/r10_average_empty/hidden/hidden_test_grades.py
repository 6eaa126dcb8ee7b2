import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grades import average


class TestHidden(unittest.TestCase):
    def test_empty(self):
        self.assertEqual(average([]), 0.0)

    def test_values(self):
        self.assertEqual(average([1, 2, 3, 4]), 2.5)


if __name__ == "__main__":
    unittest.main()

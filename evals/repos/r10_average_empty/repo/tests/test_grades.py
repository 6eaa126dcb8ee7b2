import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grades import average, letter


class TestGrades(unittest.TestCase):
    def test_average(self):
        self.assertEqual(average([80, 90]), 85)

    def test_letter(self):
        self.assertEqual(letter(95), "A")


if __name__ == "__main__":
    unittest.main()

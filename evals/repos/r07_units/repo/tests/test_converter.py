import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from converter import convert


class TestConverter(unittest.TestCase):
    def test_f(self):
        self.assertEqual(convert(100, "F"), 212)

    def test_k(self):
        self.assertAlmostEqual(convert(0, "K"), 273.15)


if __name__ == "__main__":
    unittest.main()

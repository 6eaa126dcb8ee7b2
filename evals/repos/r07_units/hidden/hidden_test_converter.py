import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from converter import convert
from units import celsius_to_kelvin


class TestHidden(unittest.TestCase):
    def test_kelvin(self):
        self.assertAlmostEqual(celsius_to_kelvin(-273.15), 0.0)
        self.assertAlmostEqual(celsius_to_kelvin(25), 298.15)

    def test_convert(self):
        self.assertAlmostEqual(convert(100, "K"), 373.15)
        self.assertEqual(convert(0, "F"), 32)

    def test_unknown(self):
        with self.assertRaises(ValueError):
            convert(1, "X")


if __name__ == "__main__":
    unittest.main()

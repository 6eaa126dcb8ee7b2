import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from colors import parse_rgb, to_hex


class TestColors(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(parse_rgb("#ff8000"), (255, 128, 0))

    def test_no_hash(self):
        with self.assertRaises(ValueError):
            parse_rgb("ff8000")

    def test_roundtrip(self):
        self.assertEqual(to_hex((1, 2, 3)), "#010203")


if __name__ == "__main__":
    unittest.main()

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from colors import parse_rgb


class TestHidden(unittest.TestCase):
    def test_good(self):
        self.assertEqual(parse_rgb("#FFFFFF"), (255, 255, 255))
        self.assertEqual(parse_rgb("#00aAbB"), (0, 170, 187))

    def test_bad(self):
        for bad in ("ff8000", "#ff80", "#ff80001", "#gg0000", "", "#", "#12 456", "#+12345"):
            with self.subTest(bad=bad):
                with self.assertRaises(ValueError):
                    parse_rgb(bad)


if __name__ == "__main__":
    unittest.main()

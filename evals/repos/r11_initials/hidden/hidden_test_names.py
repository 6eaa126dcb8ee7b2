import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from names import initials


class TestHidden(unittest.TestCase):
    def test_spaces(self):
        self.assertEqual(initials(" grace   brewster  hopper"), "GBH")
        self.assertEqual(initials("alan\tturing"), "AT")

    def test_blank(self):
        self.assertEqual(initials(""), "")
        self.assertEqual(initials("   "), "")

    def test_single(self):
        self.assertEqual(initials("linus"), "L")


if __name__ == "__main__":
    unittest.main()

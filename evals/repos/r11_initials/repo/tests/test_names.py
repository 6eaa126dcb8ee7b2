import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from names import initials


class TestNames(unittest.TestCase):
    def test_basic(self):
        self.assertEqual(initials("ada lovelace"), "AL")

    def test_spaces(self):
        self.assertEqual(initials("  Ada  Lovelace "), "AL")


if __name__ == "__main__":
    unittest.main()

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import get_port


class TestHidden(unittest.TestCase):
    def test_missing(self):
        self.assertEqual(get_port({"host": "example.org"}), 8080)
        self.assertEqual(get_port({}), 8080)

    def test_given(self):
        self.assertEqual(get_port({"port": 81}), 81)
        self.assertEqual(get_port({"port": "443"}), 443)


if __name__ == "__main__":
    unittest.main()

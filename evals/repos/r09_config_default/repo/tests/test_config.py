import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import get_port


class TestConfig(unittest.TestCase):
    def test_port(self):
        self.assertEqual(get_port({"port": "9000"}), 9000)


if __name__ == "__main__":
    unittest.main()

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from listutil import chunks, dedupe


class TestListUtil(unittest.TestCase):
    def test_dedupe_order(self):
        self.assertEqual(dedupe([3, 1, 3, 2, 1]), [3, 1, 2])

    def test_chunks(self):
        self.assertEqual(chunks([1, 2, 3], 2), [[1, 2], [3]])


if __name__ == "__main__":
    unittest.main()

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pages import paginate


class TestPages(unittest.TestCase):
    def test_first(self):
        self.assertEqual(paginate([1, 2, 3, 4, 5], 1, 2), [1, 2])

    def test_zero_page(self):
        with self.assertRaises(ValueError):
            paginate([1, 2], 0, 2)


if __name__ == "__main__":
    unittest.main()

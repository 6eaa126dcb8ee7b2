import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pages import paginate


class TestHidden(unittest.TestCase):
    def test_pages(self):
        self.assertEqual(paginate([1, 2, 3, 4, 5], 3, 2), [5])
        self.assertEqual(paginate([1, 2, 3], 5, 2), [])

    def test_values(self):
        for page, per_page in ((0, 1), (-1, 3), (1, 0), (2, -2)):
            with self.subTest(page=page, per_page=per_page):
                with self.assertRaises(ValueError):
                    paginate([1, 2, 3], page, per_page)

    def test_types(self):
        with self.assertRaises(TypeError):
            paginate([1], "1", 2)
        with self.assertRaises(TypeError):
            paginate([1], 1, 2.0)


if __name__ == "__main__":
    unittest.main()

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from render import render_members
from users import display_name


class TestHidden(unittest.TestCase):
    def test_missing(self):
        self.assertEqual(display_name({"name": "Ann"}), "Ann")

    def test_none_or_blank(self):
        self.assertEqual(display_name({"name": "Ann", "nickname": None}), "Ann")
        self.assertEqual(display_name({"name": "Ann", "nickname": "   "}), "Ann")

    def test_strip(self):
        self.assertEqual(display_name({"name": "Robert", "nickname": " Bob "}), "Bob")

    def test_render(self):
        users = [{"name": "A", "nickname": None}, {"name": "B"}, {"name": "C", "nickname": "Cee"}]
        self.assertEqual(render_members(users), "A\nB\nCee")


if __name__ == "__main__":
    unittest.main()

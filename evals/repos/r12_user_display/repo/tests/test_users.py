import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from render import render_members
from users import display_name


class TestUsers(unittest.TestCase):
    def test_nickname(self):
        self.assertEqual(display_name({"name": "Robert", "nickname": "Bob"}), "Bob")

    def test_render(self):
        users = [{"name": "Ann"}, {"name": "Robert", "nickname": "Bob"}]
        self.assertEqual(render_members(users), "Ann\nBob")


if __name__ == "__main__":
    unittest.main()

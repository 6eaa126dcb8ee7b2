import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from signup import register


class TestSignup(unittest.TestCase):
    def test_ok(self):
        users = {}
        self.assertEqual(register(users, "Ann@Example.org", "secret123"), "ann@example.org")
        self.assertIn("ann@example.org", users)

    def test_bad_email(self):
        with self.assertRaises(ValueError):
            register({}, "not-an-email", "secret123")


if __name__ == "__main__":
    unittest.main()

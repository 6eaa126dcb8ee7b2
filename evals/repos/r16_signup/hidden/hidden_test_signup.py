import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from signup import register
from validation import validate


class TestHidden(unittest.TestCase):
    def test_emails(self):
        for bad in ("ann", "@example.org", "ann@", "ann@example", ""):
            with self.subTest(bad=bad):
                with self.assertRaises(ValueError):
                    register({}, bad, "secret123")

    def test_password(self):
        with self.assertRaises(ValueError):
            register({}, "ann@example.org", "short")

    def test_duplicate(self):
        users = {}
        register(users, "ann@example.org", "secret123")
        with self.assertRaises(ValueError):
            register(users, "ANN@example.org", "another123")
        self.assertEqual(users, {"ann@example.org": "secret123"})

    def test_validate_direct(self):
        validate("bob@mail.example.com", "longenough")
        with self.assertRaises(ValueError):
            validate("bob@mail", "longenough")


if __name__ == "__main__":
    unittest.main()

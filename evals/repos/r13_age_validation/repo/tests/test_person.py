import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from person import Person


class TestPerson(unittest.TestCase):
    def test_valid(self):
        p = Person("Ann")
        p.set_age(30)
        self.assertEqual(p.age, 30)

    def test_negative(self):
        with self.assertRaises(ValueError):
            Person("Ann").set_age(-1)


if __name__ == "__main__":
    unittest.main()

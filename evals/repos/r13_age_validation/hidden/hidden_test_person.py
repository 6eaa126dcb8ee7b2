import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from person import Person


class TestHidden(unittest.TestCase):
    def test_bounds(self):
        p = Person("Ann")
        p.set_age(0)
        p.set_age(150)
        self.assertEqual(p.age, 150)
        with self.assertRaises(ValueError):
            p.set_age(151)
        with self.assertRaises(ValueError):
            p.set_age(-5)
        self.assertEqual(p.age, 150)

    def test_types(self):
        p = Person("Ann")
        for bad in ("30", 30.5, None, True):
            with self.assertRaises(TypeError):
                p.set_age(bad)
        self.assertIsNone(p.age)


if __name__ == "__main__":
    unittest.main()

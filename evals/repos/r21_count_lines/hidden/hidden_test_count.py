import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import subprocess

ROOT = Path(__file__).resolve().parent.parent


def run(*args, stdin=""):
    proc = subprocess.run([sys.executable, str(ROOT / "count.py"), *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=20)
    return proc.returncode, proc.stdout, proc.stderr


class TestHidden(unittest.TestCase):
    def test_lines(self):
        code, out, _ = run("--lines", stdin="one\ntwo\nthree\n")
        self.assertEqual((code, out), (0, "3\n"))
        self.assertEqual(run("--lines", stdin="")[1], "0\n")

    def test_default(self):
        self.assertEqual(run(stdin="x y z\n")[1], "1 3 6\n")

    def test_unknown_flag(self):
        self.assertNotEqual(run("--bogus", stdin="x")[0], 0)


if __name__ == "__main__":
    unittest.main()

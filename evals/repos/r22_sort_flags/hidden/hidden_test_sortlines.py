import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import subprocess

ROOT = Path(__file__).resolve().parent.parent


def run(*args, stdin=""):
    proc = subprocess.run([sys.executable, str(ROOT / "sortlines.py"), *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=20)
    return proc.returncode, proc.stdout, proc.stderr


class TestHidden(unittest.TestCase):
    def test_reverse_short(self):
        self.assertEqual(run("-r", stdin="1\n3\n2\n")[1], "3\n2\n1\n")

    def test_unique(self):
        self.assertEqual(run("--unique", stdin="b\na\nb\na\n")[1], "a\nb\n")

    def test_both(self):
        self.assertEqual(run("-u", "-r", stdin="x\ny\nx\n")[1], "y\nx\n")

    def test_plain_keeps_repeats(self):
        self.assertEqual(run(stdin="a\na\n")[1], "a\na\n")


if __name__ == "__main__":
    unittest.main()

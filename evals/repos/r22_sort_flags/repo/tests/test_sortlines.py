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


class TestSort(unittest.TestCase):
    def test_sort(self):
        self.assertEqual(run(stdin="b\na\nc\n")[1], "a\nb\nc\n")

    def test_reverse(self):
        self.assertEqual(run("--reverse", stdin="b\na\nc\n")[1], "c\nb\na\n")


if __name__ == "__main__":
    unittest.main()

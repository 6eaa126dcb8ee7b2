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


class TestCount(unittest.TestCase):
    def test_all(self):
        self.assertEqual(run(stdin="a b\nc\n")[1], "2 3 6\n")

    def test_lines(self):
        self.assertEqual(run("--lines", stdin="a b\nc\n")[1], "2\n")


if __name__ == "__main__":
    unittest.main()

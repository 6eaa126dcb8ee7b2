import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import subprocess

ROOT = Path(__file__).resolve().parent.parent


def run(*args, stdin=""):
    proc = subprocess.run([sys.executable, str(ROOT / "greet.py"), *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=20)
    return proc.returncode, proc.stdout, proc.stderr


class TestGreet(unittest.TestCase):
    def test_plain(self):
        self.assertEqual(run("Ada")[1], "Hello, Ada!\n")

    def test_upper(self):
        self.assertEqual(run("Ada", "--upper")[1], "HELLO, ADA!\n")


if __name__ == "__main__":
    unittest.main()

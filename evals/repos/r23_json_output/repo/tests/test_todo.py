import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import subprocess

ROOT = Path(__file__).resolve().parent.parent


def run(*args, stdin=""):
    proc = subprocess.run([sys.executable, str(ROOT / "todo.py"), *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=20)
    return proc.returncode, proc.stdout, proc.stderr

import json


class TestTodo(unittest.TestCase):
    def test_list(self):
        self.assertEqual(run("list", "tasks.json")[1], "[x] write tests\n[ ] fix bug\n")

    def test_json(self):
        code, out, _ = run("list", "tasks.json", "--json")
        self.assertEqual(code, 0)
        self.assertEqual(json.loads(out), [{"title": "fix bug", "done": False}])


if __name__ == "__main__":
    unittest.main()

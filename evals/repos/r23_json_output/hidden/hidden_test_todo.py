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
import tempfile


class TestHidden(unittest.TestCase):
    def test_json_many(self):
        tasks = [{"title": "a", "done": False}, {"title": "b", "done": True}, {"title": "c", "done": False}]
        with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
            path = Path(tmp) / "t.json"
            path.write_text(json.dumps(tasks))
            code, out, _ = run("list", str(path), "--json")
        self.assertEqual(code, 0)
        self.assertEqual(json.loads(out), [{"title": "a", "done": False}, {"title": "c", "done": False}])

    def test_plain_unchanged(self):
        self.assertEqual(run("list", "tasks.json")[1], "[x] write tests\n[ ] fix bug\n")


if __name__ == "__main__":
    unittest.main()

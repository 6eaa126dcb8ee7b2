import argparse
import json


def load(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def main(argv=None):
    parser = argparse.ArgumentParser(description="A tiny to-do list.")
    sub = parser.add_subparsers(dest="command", required=True)
    lister = sub.add_parser("list", help="list the tasks")
    lister.add_argument("file")
    lister.add_argument("--json", action="store_true", help="open tasks as a JSON array")
    args = parser.parse_args(argv)
    if args.command == "list":
        tasks = load(args.file)
        if args.json:
            print(json.dumps([{"title": t["title"], "done": False} for t in tasks if not t["done"]]))
            return
        for task in tasks:
            mark = "x" if task["done"] else " "
            print(f"[{mark}] {task['title']}")


if __name__ == "__main__":
    main()

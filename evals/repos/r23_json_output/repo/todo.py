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
    args = parser.parse_args(argv)
    if args.command == "list":
        for task in load(args.file):
            mark = "x" if task["done"] else " "
            print(f"[{mark}] {task['title']}")


if __name__ == "__main__":
    main()

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(description="Sort lines of stdin.")
    parser.add_argument("--reverse", "-r", action="store_true", help="descending order")
    parser.add_argument("--unique", "-u", action="store_true", help="drop repeated lines")
    parser.parse_args(argv)
    lines = sys.stdin.read().splitlines()
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main()

import argparse
import sys


def counts(text):
    return len(text.splitlines()), len(text.split()), len(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Count lines, words and characters of stdin.")
    parser.add_argument("--lines", action="store_true", help="print only the number of lines")
    args = parser.parse_args(argv)
    lines, words, chars = counts(sys.stdin.read())
    if args.lines:
        print(lines)
    else:
        print(lines, words, chars)


if __name__ == "__main__":
    main()

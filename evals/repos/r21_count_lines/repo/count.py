import argparse
import sys


def counts(text):
    return len(text.splitlines()), len(text.split()), len(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Count lines, words and characters of stdin.")
    parser.parse_args(argv)
    lines, words, chars = counts(sys.stdin.read())
    print(lines, words, chars)


if __name__ == "__main__":
    main()

"""Command line: python -m tipcalc BILL [--people N] [--tip PERCENT]."""

import argparse

from tipcalc.split import split_bill


def main() -> None:
    parser = argparse.ArgumentParser(prog="tipcalc")
    parser.add_argument("bill", type=float)
    parser.add_argument("--people", type=int, default=1)
    parser.add_argument("--tip", type=float, default=18)
    args = parser.parse_args()
    share = split_bill(args.bill, args.people, args.tip)
    print(f"each person pays {share:.2f}")


if __name__ == "__main__":
    main()

import argparse


def main(argv=None):
    parser = argparse.ArgumentParser(description="Greet someone.")
    parser.add_argument("name")
    parser.add_argument("--upper", action="store_true", help="shout the greeting")
    args = parser.parse_args(argv)
    message = f"Hello, {args.name}!"
    print(message)


if __name__ == "__main__":
    main()

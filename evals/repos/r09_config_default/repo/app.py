import sys

from config import get_port

if __name__ == "__main__":
    # A user's settings without a port.
    print(get_port({"host": "example.org"}))
    sys.exit(0)

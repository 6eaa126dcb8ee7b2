import string


def parse_rgb(text):
    """'#rrggbb' -> (r, g, b)."""
    if len(text) != 7 or text[0] != "#" or any(c not in string.hexdigits for c in text[1:]):
        raise ValueError(f"not a colour like #rrggbb: {text!r}")
    return (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))


def to_hex(rgb):
    return "#" + "".join(f"{c:02x}" for c in rgb)

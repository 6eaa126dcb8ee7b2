def parse_rgb(text):
    """'#rrggbb' -> (r, g, b)."""
    return (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))


def to_hex(rgb):
    return "#" + "".join(f"{c:02x}" for c in rgb)

from money import parse_amount


def balance(lines):
    """Total, in cents, of lines like 'rent: -500.00'."""
    return sum(parse_amount(line.split(":", 1)[1]) for line in lines)

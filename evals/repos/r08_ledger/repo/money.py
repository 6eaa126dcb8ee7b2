def parse_amount(text):
    """'12.50' -> 1250 cents. Accepts a leading '$', thousands commas and a minus sign."""
    raise NotImplementedError


def format_cents(cents):
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}${cents // 100}.{cents % 100:02d}"

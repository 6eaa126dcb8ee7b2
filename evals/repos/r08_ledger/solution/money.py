def parse_amount(text):
    """'12.50' -> 1250 cents. Accepts a leading '$', thousands commas and a minus sign."""
    s = text.strip().replace(",", "")
    sign = 1
    if s.startswith("-"):
        sign, s = -1, s[1:]
    s = s.lstrip("$")
    whole, _, frac = s.partition(".")
    frac = (frac + "00")[:2]
    return sign * (int(whole or "0") * 100 + int(frac))


def format_cents(cents):
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}${cents // 100}.{cents % 100:02d}"

def initials(name):
    """'ada lovelace' -> 'AL'."""
    return "".join(part[0].upper() for part in name.split(" "))

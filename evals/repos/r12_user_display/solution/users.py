def display_name(user):
    """The nickname if the user has a non-blank one, else the name."""
    nickname = (user.get("nickname") or "").strip()
    return nickname or user["name"]

def display_name(user):
    """The nickname if the user has a non-blank one, else the name."""
    return user.get("nickname").strip() or user["name"]

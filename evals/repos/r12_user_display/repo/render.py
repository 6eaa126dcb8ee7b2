from users import display_name


def render_members(users):
    lines = []
    for user in users:
        lines.append(display_name(user))
    return "\n".join(lines)

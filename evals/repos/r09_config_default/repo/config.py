DEFAULT_PORT = 8080


def get_port(settings):
    """The port from a settings dict (a string or int), DEFAULT_PORT when missing."""
    return int(settings["port"])

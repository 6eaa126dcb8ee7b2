def balance(lines):
    """Total, in cents, of lines like 'rent: -500.00'."""
    raise NotImplementedError

def validate(email, password, existing=()):
    local, at, domain = email.partition("@")
    if not at or not local or not domain or "." not in domain:
        raise ValueError(f"invalid email: {email!r}")
    if len(password) < 8:
        raise ValueError("password must be at least 8 characters")
    if email.lower() in existing:
        raise ValueError(f"already registered: {email}")

def register(users, email, password):
    users[email.lower()] = password
    return email.lower()

from validation import validate


def register(users, email, password):
    validate(email, password, users)
    users[email.lower()] = password
    return email.lower()

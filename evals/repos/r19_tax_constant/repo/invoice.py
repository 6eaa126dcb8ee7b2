def tax(amount):
    return round(amount * 0.2, 2)


def total_with_tax(amounts):
    subtotal = sum(amounts)
    return round(subtotal + subtotal * 0.2, 2)

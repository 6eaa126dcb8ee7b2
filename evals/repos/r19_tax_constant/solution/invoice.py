import settings


def tax(amount):
    return round(amount * settings.TAX_RATE, 2)


def total_with_tax(amounts):
    subtotal = sum(amounts)
    return round(subtotal + subtotal * settings.TAX_RATE, 2)

from discounts import apply_discount


def member_price(price):
    return apply_discount(price, 10)


def sale_price(price, percent):
    return apply_discount(price, percent)

def member_price(price):
    percent = 10
    if percent < 0 or percent > 100:
        raise ValueError("bad percent")
    return round(price * (100 - percent) / 100, 2)


def sale_price(price, percent):
    if percent < 0 or percent > 100:
        raise ValueError("bad percent")
    return round(price * (100 - percent) / 100, 2)

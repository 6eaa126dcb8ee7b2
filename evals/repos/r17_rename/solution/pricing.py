def calculate_total(prices, quantities):
    return sum(p * q for p, q in zip(prices, quantities))

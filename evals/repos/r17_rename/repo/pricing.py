def calc_tot(prices, quantities):
    return sum(p * q for p, q in zip(prices, quantities))

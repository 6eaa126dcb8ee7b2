from pricing import calc_tot


class Cart:
    def __init__(self):
        self.lines = []

    def add(self, price, qty=1):
        self.lines.append((price, qty))

    def total(self):
        return calc_tot([p for p, _ in self.lines], [q for _, q in self.lines])

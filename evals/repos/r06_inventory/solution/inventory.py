class Inventory:
    def __init__(self):
        self.stock = {}

    def add(self, name, qty):
        self.stock[name] = self.stock.get(name, 0) + qty

    def count(self, name):
        return self.stock.get(name, 0)

    def remove(self, name, qty):
        if self.stock.get(name, 0) < qty:
            raise ValueError(f"not enough {name}")
        self.stock[name] -= qty

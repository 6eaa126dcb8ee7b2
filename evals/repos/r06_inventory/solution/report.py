def reorder_list(inventory, threshold):
    return sorted(name for name, qty in inventory.stock.items() if qty < threshold)

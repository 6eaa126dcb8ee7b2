def dedupe(items):
    """Items without repeats, in order of first appearance."""
    return list(set(items))


def chunks(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]

def dedupe(items):
    """Items without repeats, in order of first appearance."""
    seen = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def chunks(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]

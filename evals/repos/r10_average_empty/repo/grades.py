def average(scores):
    """Mean of the scores; 0.0 when there are none."""
    return sum(scores) / len(scores)


def letter(score):
    if score >= 90:
        return "A"
    if score >= 75:
        return "B"
    return "C"

def word_counts(text):
    """Map each word (lower case) to how often it occurs in text."""
    counts = {}
    for word in text.lower().split():
        counts[word] = counts.get(word, 0) + 1
    return counts

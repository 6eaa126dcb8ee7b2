def paginate(items, page, per_page):
    """Page `page` (1-based) of `items`, `per_page` items per page."""
    if not isinstance(page, int) or not isinstance(per_page, int):
        raise TypeError("page and per_page must be ints")
    if page < 1 or per_page < 1:
        raise ValueError("page and per_page must be at least 1")
    start = (page - 1) * per_page
    return items[start:start + per_page]

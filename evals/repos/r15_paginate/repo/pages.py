def paginate(items, page, per_page):
    """Page `page` (1-based) of `items`, `per_page` items per page."""
    start = (page - 1) * per_page
    return items[start:start + per_page]

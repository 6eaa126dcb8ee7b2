def reorder_list(inventory, threshold):
    raise NotImplementedError

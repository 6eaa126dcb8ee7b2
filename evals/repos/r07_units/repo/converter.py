from units import celsius_to_fahrenheit


def convert(value, to):
    """Convert a temperature in Celsius to the unit `to`."""
    if to == "F":
        return celsius_to_fahrenheit(value)
    raise ValueError(f"unknown unit: {to}")

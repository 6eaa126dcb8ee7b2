from units import celsius_to_fahrenheit, celsius_to_kelvin


def convert(value, to):
    """Convert a temperature in Celsius to the unit `to`."""
    if to == "F":
        return celsius_to_fahrenheit(value)
    if to == "K":
        return celsius_to_kelvin(value)
    raise ValueError(f"unknown unit: {to}")

class Person:
    def __init__(self, name):
        self.name = name
        self.age = None

    def set_age(self, age):
        if isinstance(age, bool) or not isinstance(age, int):
            raise TypeError("age must be an int")
        if age < 0 or age > 150:
            raise ValueError("age must be between 0 and 150")
        self.age = age

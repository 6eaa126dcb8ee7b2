class Person:
    def __init__(self, name):
        self.name = name
        self.age = None

    def set_age(self, age):
        self.age = age

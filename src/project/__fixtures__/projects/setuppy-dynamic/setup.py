from setuptools import setup

with open("deps.txt") as f:
    REQS = f.read().splitlines()

setup(name="dyn", install_requires=REQS)

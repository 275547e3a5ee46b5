# The package list: src's packages, and growthpace.workflow, whose files pyproject.toml maps from the
# repository's root (a list that [tool.setuptools.packages.find] cannot extend).
from setuptools import find_packages, setup

setup(packages=find_packages("src") + ["growthpace.workflow"])

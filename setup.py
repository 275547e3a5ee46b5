# The package list: src's packages, and growthpace.workflow, whose files pyproject.toml maps from the
# repository's root (a list that [tool.setuptools.packages.find] cannot extend). That package is data
# only: the root's one Python file, this one, is not a module of it.
from setuptools import find_packages, setup
from setuptools.command.build_py import build_py


class BuildPy(build_py):
    def find_package_modules(self, package, package_dir):
        return [] if package == "growthpace.workflow" else super().find_package_modules(package, package_dir)


setup(packages=find_packages("src") + ["growthpace.workflow"], cmdclass={"build_py": BuildPy})

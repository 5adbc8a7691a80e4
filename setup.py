"""Packaging beyond what pyproject.toml can say: examples/ (at the repository's top, where the
README and the tests name it) ships inside the package as ``service.examples``, so an installed
server's playground lists them (service/examples.py); and the built playground files
(scripts/build_web.sh) ship as package data. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["engine*", "service*"]), "service.examples"],
    package_dir={"service.examples": "examples"},
    package_data={"service": ["static/*.html", "static/playground/*"],
                  "service.examples": ["*.json", "*.py"]},
)

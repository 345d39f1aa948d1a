"""One import namespace, `edgewise`, over the four top-level folders of the repository.

The mapping lives here rather than in pyproject.toml because setuptools' declarative
`packages.find` cannot rename folders; this lists every sub-package under its dotted name.
"""
from setuptools import find_packages, setup

ROOTS = {
    "edgewise": "sdk",
    "edgewise.runtime": "runtime",
    "edgewise.converters": "converters",
    "edgewise.device_tests": "device_tests",
}

packages = []
for name, folder in ROOTS.items():
    packages.append(name)
    packages.extend(f"{name}.{sub}" for sub in find_packages(folder))

setup(packages=packages, package_dir=ROOTS)

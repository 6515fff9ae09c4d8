"""Maps the repository's folders to import names (metadata lives in pyproject.toml).

`platform/` must not become a package (it would shadow the standard `platform` module), so the
core is mapped from `platform/twinledger`; `adapters/` and `plugins/` become `twinledger_adapters`
and `twinledger_plugins`.
"""

from setuptools import find_packages, setup

ROOTS = {
    "twinledger": "platform/twinledger",
    "twinledger_adapters": "adapters",
    "twinledger_plugins": "plugins",
    "twinledger_twins": "twins",
}

packages: list[str] = []
for name, path in ROOTS.items():
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(path, exclude=["tests", "*.tests"])]

setup(packages=packages, package_dir=ROOTS)

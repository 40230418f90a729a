"""Package metadata comes from settings.ini (nbdev 2.x layout)."""
from configparser import ConfigParser

import setuptools

cfg = ConfigParser(delimiters=["="])
cfg.read("settings.ini", encoding="utf-8")
c = cfg["DEFAULT"]

setuptools.setup(
    name=c["lib_name"],
    version=c["version"],
    description=c["description"],
    author=c["author"],
    author_email=c["author_email"],
    license="Apache-2.0",
    python_requires=f">={c['min_python']}",
    packages=setuptools.find_packages(include=["streamflow", "streamflow.*"]),
    include_package_data=True,
    install_requires=c["requirements"].split(),
    extras_require={"dev": c["dev_requirements"].split()},
    entry_points={
        "console_scripts": c["console_scripts"].split(),
        "nbdev": [f"{c['lib_path']}={c['lib_path']}._modidx:d"],
    },
    zip_safe=False,
)

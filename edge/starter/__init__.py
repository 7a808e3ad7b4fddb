"""The installed encoder models (package data): ``models.json`` and the files it names.

Written by ``tools/ship_starter.py``; read by :mod:`edge.installed_models`. No code lives here:
the package exists so setuptools carries the data into wheels and editable installs.
"""

import signing  # noqa: F401  (its warnings filter comes before any pyHanko import: signing/__init__.py)

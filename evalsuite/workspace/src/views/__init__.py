"""tdom components. Templates are Python 3.14 t-strings passed to ``html()``."""

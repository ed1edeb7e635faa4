"""Global tdom-svcs middleware, discovered at startup by ``scan_components``."""

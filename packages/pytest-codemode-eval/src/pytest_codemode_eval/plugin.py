"""pytest hook wiring."""

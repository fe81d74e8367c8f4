"""Import from the Pyronear alert platform."""

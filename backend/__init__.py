"""GridTokenX backend."""

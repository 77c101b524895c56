"""GridTokenX edge."""

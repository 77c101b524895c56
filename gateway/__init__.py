"""GridTokenX gateway."""

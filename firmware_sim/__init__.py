"""GridTokenX firmware_sim."""

"""Test helpers shared by the test packages (real services, worlds, publishers)."""

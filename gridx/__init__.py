"""GridTokenX shared package: wire contract, configuration, services, chain client and CLI."""

__all__ = ["__version__"]

__version__ = "0.1.0"

"""sarportal: the merchant portal of the Sicher auf Rechnung invoice payment provider."""

__version__ = "0.1.0"

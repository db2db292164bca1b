"""closing: run the closing of a securities purchase agreement."""

__version__ = "0.1.0"

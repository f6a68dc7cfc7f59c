"""Command-line interface (Click). Only this package imports Click."""

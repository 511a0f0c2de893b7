"""Studio."""

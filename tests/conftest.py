"""Suite-wide configuration. Real components only: a missing one is a failure, never a skip."""

"""The wire: request/response schemas (msgspec) and edge validation."""

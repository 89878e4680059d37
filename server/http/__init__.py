"""HTTP views. Each module exposes ``register(ctx)`` and is listed in ``server.app.FEATURES``."""

"""Tortoise models, one module per domain (see ``managely.db.MODEL_MODULES``)."""

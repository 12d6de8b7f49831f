"""Domain logic: async functions with explicit arguments; no request object, no Quart."""

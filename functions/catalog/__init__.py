"""catalog: the anonymous, cacheable product API (owner of the `catalog` database)."""

"""Campaign dashboards and the supporter list (being written)."""

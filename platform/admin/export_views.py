"""CSV exports of a campaign's actions (being written)."""

"""The coalition's moderation screens (/admin/moderation/): one queue, bulk decisions, the audit log."""

from chorus.moderation import views  # noqa: F401 - registers the routes
from chorus.moderation.views import bp

__all__ = ["bp"]

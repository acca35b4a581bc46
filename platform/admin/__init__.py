"""The admin area (/admin/): staff accounts, member organizations' campaigns, dashboards, exports."""

from chorus.admin import auth_views, campaign_views, dashboard_views, export_views, org_views  # noqa: F401
from chorus.admin.blueprint import bp

__all__ = ["bp"]

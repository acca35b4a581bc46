"""The admin area (/admin/): staff accounts, member organizations' campaigns, dashboards, exports."""

from chorus.admin import (  # noqa: F401 - registers the routes
    auth_views,
    campaign_views,
    dashboard_views,
    data_rights_views,
    export_views,
    integration_views,
    letter_views,
    mail_views,
    org_views,
    statement_views,
)
from chorus.admin.blueprint import bp

__all__ = ["bp"]

"""Models grouped by domain; importing this package registers every table with the metadata."""

from chorus.models.actions import Action, ActionShare, Suppression
from chorus.models.campaigns import Campaign, CampaignHost
from chorus.models.orgs import Organization

__all__ = ["Action", "ActionShare", "Campaign", "CampaignHost", "Organization", "Suppression"]

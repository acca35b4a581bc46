"""Models grouped by domain; importing this package registers every table with the metadata."""

from chorus.models.accounts import Invitation, Membership, User
from chorus.models.actions import Action, ActionShare, Suppression
from chorus.models.campaigns import Campaign, CampaignHost
from chorus.models.exports import Export
from chorus.models.letters import CampaignTarget, Delivery, DeliveryEvent, Official
from chorus.models.orgs import MemberHost, Organization
from chorus.models.periodic import PeriodicTask

__all__ = [
    "Action",
    "ActionShare",
    "Campaign",
    "CampaignHost",
    "CampaignTarget",
    "Delivery",
    "DeliveryEvent",
    "Export",
    "Invitation",
    "MemberHost",
    "Membership",
    "Official",
    "Organization",
    "PeriodicTask",
    "Suppression",
    "User",
]

"""Models grouped by domain; importing this package registers every table with the metadata."""

from chorus.models.accounts import Invitation, Membership, User
from chorus.models.actions import Action, AuditEntry, Consent, Suppression
from chorus.models.campaigns import Campaign, CampaignHost
from chorus.models.exports import Export
from chorus.models.letters import CampaignTarget, Delivery, DeliveryEvent, Official
from chorus.models.orgs import Organization
from chorus.models.periodic import PeriodicTask

__all__ = [
    "Action",
    "AuditEntry",
    "Campaign",
    "CampaignHost",
    "CampaignTarget",
    "Consent",
    "Delivery",
    "DeliveryEvent",
    "Export",
    "Invitation",
    "Membership",
    "Official",
    "Organization",
    "PeriodicTask",
    "Suppression",
    "User",
]

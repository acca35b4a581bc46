"""Models grouped by domain; importing this package registers every table with the metadata."""

from chorus.models.accounts import Invitation, Membership, User
from chorus.models.actions import Action, AuditEntry, Consent, Suppression
from chorus.models.api import ApiAudit, ApiKey, Contact, Tag, Tagging
from chorus.models.campaigns import Campaign, CampaignHost
from chorus.models.exports import Export
from chorus.models.letters import CampaignTarget, Delivery, DeliveryEvent, Official
from chorus.models.mail import SupporterMail
from chorus.models.orgs import MemberHost, Organization
from chorus.models.periodic import PeriodicTask
from chorus.models.statements import ModerationDecision, PublicMessage, SignOn, StatementVersion
from chorus.models.webhooks import WebhookEndpoint, WebhookEvent

__all__ = [
    "Action",
    "ApiAudit",
    "ApiKey",
    "AuditEntry",
    "Campaign",
    "CampaignHost",
    "CampaignTarget",
    "Consent",
    "Contact",
    "Delivery",
    "DeliveryEvent",
    "Export",
    "Invitation",
    "MemberHost",
    "Membership",
    "ModerationDecision",
    "Official",
    "Organization",
    "PeriodicTask",
    "PublicMessage",
    "SignOn",
    "StatementVersion",
    "Suppression",
    "SupporterMail",
    "Tag",
    "Tagging",
    "User",
    "WebhookEndpoint",
    "WebhookEvent",
]

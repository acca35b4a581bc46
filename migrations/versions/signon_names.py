"""sign_ons.name_normalized again, by the rule that reads accents typed either way, curly apostrophes,
dashes and full-width letters as one name and keeps the marks of scripts that write vowels with them

A row whose new name would collide with another row's (the same contact, or a second approved entry)
keeps its old one: the moderators see both as they were.

Revision ID: signon_names
Revises: cover_actions_created
Create Date: 2026-12-01

"""

import sqlalchemy as sa
from alembic import op

from chorus.services.statements import normalize_name

revision = "signon_names"
down_revision = "cover_actions_created"
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, campaign_id, organization_name, name_normalized, email_normalized, status FROM sign_ons")
    ).all()
    contacts = {(r.campaign_id, r.name_normalized, r.email_normalized) for r in rows}
    approved = {(r.campaign_id, r.name_normalized) for r in rows if r.status == "approved"}
    for row in sorted(rows, key=lambda r: r.id):
        name = normalize_name(row.organization_name) or row.name_normalized
        contact = (row.campaign_id, name, row.email_normalized)
        listed = (row.campaign_id, name)
        if name == row.name_normalized or contact in contacts or (row.status == "approved" and listed in approved):
            continue
        contacts.discard((row.campaign_id, row.name_normalized, row.email_normalized))
        contacts.add(contact)
        if row.status == "approved":
            approved.discard((row.campaign_id, row.name_normalized))
            approved.add(listed)
        bind.execute(sa.text("UPDATE sign_ons SET name_normalized = :name WHERE id = :id"), {"name": name, "id": row.id})


def downgrade():
    """The old rule's names are not kept; the new ones compare as well under the old code."""

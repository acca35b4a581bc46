"""the Action Network-compatible API (keys, contacts, tags, audit), webhooks, API-recorded actions

Revision ID: i9_api_webhooks
Revises: i11_delivery_claim_token
Create Date: 2026-11-29

"""
import uuid

import sqlalchemy as sa
from alembic import op

revision = "i9_api_webhooks"
down_revision = "i11_delivery_claim_token"
branch_labels = None
depends_on = None

PERSON_NAMESPACE = uuid.UUID("6f1d2f8e-2b1c-4c53-9a55-6a9f5b0c7e21")  # chorus.models.api
TS = sa.DateTime(timezone=True)
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_api_keys_org_id_organizations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        sa.UniqueConstraint("uuid", name=op.f("uq_api_keys_uuid")),
    )
    op.create_index(op.f("ix_api_keys_org_id"), "api_keys", ["org_id"], unique=False)

    op.create_table(
        "contacts",
        sa.Column("id", BIG, nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("person_uuid", sa.String(36), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("email_normalized", sa.String(254), nullable=False),
        sa.Column("given_name", sa.String(100), nullable=False),
        sa.Column("family_name", sa.String(100), nullable=False),
        sa.Column("postal_code", sa.String(20), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("modified_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_contacts_org_id_organizations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("org_id", "email_normalized", name="uq_contacts_org_email"),
    )
    op.create_index(op.f("ix_contacts_person_uuid"), "contacts", ["person_uuid"], unique=False)

    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("modified_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_tags_org_id_organizations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("org_id", "name", name="uq_tags_org_name"),
        sa.UniqueConstraint("uuid", name=op.f("uq_tags_uuid")),
    )

    op.create_table(
        "taggings",
        sa.Column("id", BIG, nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("person_uuid", sa.String(36), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_taggings_org_id_organizations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], name=op.f("fk_taggings_tag_id_tags"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taggings")),
        sa.UniqueConstraint("tag_id", "person_uuid", name="uq_taggings_tag_person"),
        sa.UniqueConstraint("uuid", name=op.f("uq_taggings_uuid")),
    )
    op.create_index(op.f("ix_taggings_person_uuid"), "taggings", ["person_uuid"], unique=False)

    op.create_table(
        "api_audit",
        sa.Column("id", BIG, nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"], name=op.f("fk_api_audit_api_key_id_api_keys"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_audit")),
    )
    op.create_index("ix_api_audit_key_at", "api_audit", ["api_key_id", "at"], unique=False)

    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("paused_at", TS, nullable=True),
        sa.Column("last_success_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_webhook_endpoints_org_id_organizations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
        sa.UniqueConstraint("uuid", name=op.f("uq_webhook_endpoints_uuid")),
    )
    op.create_index(op.f("ix_webhook_endpoints_org_id"), "webhook_endpoints", ["org_id"], unique=False)

    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person_uuid", sa.String(36), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(8), nullable=False, server_default="web"))
        batch_op.add_column(sa.Column("api_key_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_actions_api_key_id_api_keys"), "api_keys", ["api_key_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_check_constraint("source", "source IN ('web', 'api')")
    actions = sa.table("actions", sa.column("id", sa.Integer()), sa.column("email_normalized", sa.String()), sa.column("person_uuid", sa.String()))
    conn = op.get_bind()
    rows = conn.execute(sa.select(actions.c.id, actions.c.email_normalized)).all()
    for row in rows:
        conn.execute(
            actions.update().where(actions.c.id == row.id).values(person_uuid=str(uuid.uuid5(PERSON_NAMESPACE, row.email_normalized)))
        )
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.alter_column("person_uuid", existing_type=sa.String(36), nullable=False)
        batch_op.create_index(op.f("ix_actions_person_uuid"), ["person_uuid"], unique=False)
        batch_op.create_index("ix_actions_campaign_seek", ["campaign_id", "id", "org_id"], unique=False)

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("count_api_actions", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.alter_column("count_api_actions", existing_type=sa.Boolean(), server_default=None)

    op.create_table(
        "webhook_events",
        sa.Column("id", BIG, nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("action_id", BIG, nullable=True),
        sa.Column("email_normalized", sa.String(254), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.CheckConstraint("kind IN ('signature', 'outreach', 'endorsement', 'sign_on', 'unsubscribe')", name=op.f("ck_webhook_events_kind")),
        sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name=op.f("ck_webhook_events_status")),
        sa.ForeignKeyConstraint(["action_id"], ["actions.id"], name=op.f("fk_webhook_events_action_id_actions"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoints.id"], name=op.f("fk_webhook_events_endpoint_id_webhook_endpoints"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("uuid", name=op.f("uq_webhook_events_uuid")),
    )
    due = sa.text("status = 'queued'")
    op.create_index("ix_webhook_events_due", "webhook_events", ["endpoint_id", "next_attempt_at"], postgresql_where=due, sqlite_where=due)
    op.create_index("ix_webhook_events_log", "webhook_events", ["endpoint_id", "id"], unique=False)


def downgrade():
    op.drop_table("webhook_events")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("count_api_actions")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index("ix_actions_campaign_seek")
        batch_op.drop_index(op.f("ix_actions_person_uuid"))
        batch_op.drop_constraint("ck_actions_source", type_="check")
        batch_op.drop_constraint(op.f("fk_actions_api_key_id_api_keys"), type_="foreignkey")
        batch_op.drop_column("api_key_id")
        batch_op.drop_column("source")
        batch_op.drop_column("person_uuid")
    op.drop_table("webhook_endpoints")
    op.drop_table("api_audit")
    op.drop_table("taggings")
    op.drop_table("tags")
    op.drop_table("contacts")
    op.drop_table("api_keys")

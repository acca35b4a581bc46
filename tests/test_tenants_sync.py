"""`chorus tenants sync`: all or nothing, never deletes a member, keeps admin edits unless --force."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from chorus.cli import cli
from chorus.extensions import db
from chorus.services import campaigns, tenants
from tests.factories import make_campaign


def member(root: Path, slug: str, toml: str) -> None:
    (root / slug).mkdir(parents=True, exist_ok=True)
    (root / slug / "tenant.toml").write_text(toml)


def test_sync_keeps_admin_edits_and_members_whose_folder_is_gone_unless_forced(app_env, tmp_path):
    root = tmp_path / "members"
    member(root, "harbor", 'name = "Harbor Local"\nprimary_color = "#8c1c13"\nhosts = ["Act.Harbor.example"]\n')
    member(root, "riverside", 'name = "Riverside"\n')
    env = {**app_env, "CHORUS_TENANTS_DIR": str(root)}
    runner = CliRunner()
    assert runner.invoke(cli, ["tenants", "sync"], env=env).exit_code == 0

    from chorus.app import create_app

    with create_app(env).app_context():
        harbor = campaigns.get_org("harbor")
        assert [(h.host, h.approved) for h in harbor.hosts] == [("act.harbor.example", True)]
        harbor.name, harbor.edited_in_admin = "Harbor (edited in the admin)", True
        make_campaign(campaigns.get_org("riverside"))
        db.session.commit()
    (root / "riverside" / "tenant.toml").unlink()
    (root / "riverside").rmdir()
    member(root, "harbor", 'name = "Harbor from the folder"\n')

    kept = runner.invoke(cli, ["tenants", "sync"], env=env)
    assert kept.exit_code == 0 and "Kept the admin's edits of harbor" in kept.output
    with create_app(env).app_context():
        assert campaigns.get_org("harbor").name == "Harbor (edited in the admin)"
        assert campaigns.get_org("riverside") is not None  # a folder removed deletes nothing
    assert runner.invoke(cli, ["tenants", "sync", "--force"], env=env).exit_code == 0
    with create_app(env).app_context():
        harbor = campaigns.get_org("harbor")
        assert harbor.name == "Harbor from the folder" and not harbor.edited_in_admin
        assert [h.host for h in harbor.hosts] == ["act.harbor.example"]  # hosts are not taken away


@pytest.mark.parametrize(
    ("slug", "toml", "message"),
    [
        ("thanks", 'name = "T"\n', "a name the platform uses"),
        ("embed", 'name = "T"\n', "a name the platform uses"),
        ("ok-member", 'name = "T"\nhosts = ["not a host"]\n', "not a host name"),
        ("ok-member", 'name = "T"\nhosts = "act.example.org"\n', "hosts must be a list"),
    ],
)
def test_sync_refuses_reserved_slugs_and_bad_hosts_and_writes_nothing(app, tmp_path, slug, toml, message):
    root = tmp_path / "members"
    member(root, "aaa-fine", 'name = "Fine"\n')
    member(root, slug, toml)
    with pytest.raises(tenants.TenantError, match=message):
        tenants.sync(root)
    assert campaigns.get_org("aaa-fine") is None


def test_a_host_belongs_to_one_member_only(app, tmp_path):
    root = tmp_path / "members"
    member(root, "first", 'name = "First"\nhosts = ["act.example.org"]\n')
    tenants.sync(root)
    member(root, "second", 'name = "Second"\nhosts = ["act.example.org"]\n')
    with pytest.raises(tenants.TenantError, match="already belongs to first"):
        tenants.sync(root)

"""Staff accounts under attack: parallel password guesses, strangers trying to lock out the owner,
second-factor guessing, a stolen session replacing the second factor, editors changing published
campaigns, and letters confirmed after their campaign stopped."""

from __future__ import annotations

import threading
import time

import pyotp
from flask import current_app
from sqlalchemy import select

from chorus.extensions import db
from chorus.models import Delivery
from tests.factories import (
    PASSWORD,
    confirm_link,
    csrf_token,
    letter,
    login,
    make_campaign,
    make_letter_campaign,
    make_org,
    make_user,
    run_jobs,
    session_csrf,
    sign,
)


def test_parallel_wrong_passwords_get_at_most_the_limit_of_hash_checks_and_the_owner_still_signs_in(
    client, monkeypatch
):
    from chorus.services import accounts

    make_user("root@coalition.example", "platform-admin")
    checks = []

    class CountingHasher:
        def __getattr__(self, name):
            return getattr(real, name)

        def verify(self, hash_, password):
            checks.append(password)
            return real.verify(hash_, password)

    real = accounts.HASHER
    monkeypatch.setattr(accounts, "HASHER", CountingHasher())
    app = current_app._get_current_object()
    results = []

    def guess() -> None:
        with app.app_context():
            results.append(accounts.authenticate("root@coalition.example", "wrong password!", "203.0.113.9"))
            db.session.remove()

    threads = [threading.Thread(target=guess) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 16 and all(r.user is None for r in results)
    assert len(checks) <= accounts.ACCOUNT_ADDRESS_ATTEMPTS
    assert sum(r.throttled for r in results) >= 16 - accounts.ACCOUNT_ADDRESS_ATTEMPTS
    # The stranger's address is locked out; the owner, elsewhere, is not.
    assert accounts.authenticate("root@coalition.example", PASSWORD, "203.0.113.9").throttled
    assert accounts.authenticate("root@coalition.example", PASSWORD, "198.51.100.7").user is not None


def test_strangers_failures_do_not_lock_the_owner_out_through_the_login_page(client):
    make_user("root@coalition.example", "platform-admin")
    stranger = {"REMOTE_ADDR": "203.0.113.9"}
    page = client.get("/admin/login").get_data(as_text=True)
    data = {"email": "root@coalition.example", "password": "wrong password!", "csrf_token": csrf_token(page)}
    statuses = [client.post("/admin/login", data=data, environ_base=stranger).status_code for _ in range(7)]
    assert statuses[:5] == [422] * 5 and statuses[5:] == [429, 429]
    assert login(client, "root@coalition.example").status_code == 302  # the owner, from their own address


def _user_with_totp(email: str = "root@coalition.example") -> tuple[str, int]:
    user = make_user(email, "platform-admin")
    user.totp_secret = pyotp.random_base32()
    db.session.commit()
    return user.totp_secret, user.id


def _post_code(client, code: str):
    token = session_csrf(client, "/admin/login/code")
    return client.post("/admin/login/code", data={"csrf_token": token, "code": code})


def test_wrong_codes_lock_the_sign_in_even_for_a_replayed_cookie_and_then_the_account(client):
    from chorus.services import accounts

    secret, _id = _user_with_totp()
    assert login(client, "root@coalition.example").headers["Location"].startswith("/admin/login/code")
    token = session_csrf(client, "/admin/login/code")
    cookie = client.get_cookie("session").value  # a pending sign-in an attacker keeps replaying
    answers = [
        client.post("/admin/login/code", data={"csrf_token": token, "code": "000000"}).status_code
        for _ in range(accounts.CODE_ATTEMPTS_PER_SIGN_IN + 1)
    ]
    assert answers[:-1] == [422] * accounts.CODE_ATTEMPTS_PER_SIGN_IN and answers[-1] == 302
    client.set_cookie("session", cookie)
    replayed = client.post("/admin/login/code", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()})
    assert replayed.status_code == 302 and replayed.headers["Location"].startswith("/admin/login")
    assert client.get("/admin/").status_code == 302  # never signed in

    # New sign-ins keep guessing until the account limit: then the password step itself waits.
    for _ in range(accounts.CODE_ATTEMPTS_PER_ACCOUNT):
        step = login(client, "root@coalition.example")
        if step.status_code == 429:
            break
        _post_code(client, "000000")
    assert step.status_code == 429
    assert "Too many failed attempts" in step.get_data(as_text=True)


def test_replacing_the_second_factor_needs_the_password_and_a_current_code(client):
    secret, user_id = _user_with_totp()
    login(client, "root@coalition.example")
    _post_code(client, pyotp.TOTP(secret).now())
    assert client.get("/admin/").status_code == 200
    client.get("/admin/account/two-factor")
    with client.session_transaction() as session:
        new_secret = session["totp_pending"]
    token = session_csrf(client, "/admin/account/two-factor")
    later = time.time() + 30
    attempts = [
        {"code": pyotp.TOTP(new_secret).now()},  # the session alone
        {"code": pyotp.TOTP(new_secret).now(), "password": PASSWORD},  # no current code
        {"code": pyotp.TOTP(new_secret).now(), "password": "wrong password!", "current_code": "123456"},
    ]
    for data in attempts:
        response = client.post("/admin/account/two-factor", data={"csrf_token": token, **data})
        assert response.status_code == 422
        db.session.expire_all()
        assert current_user_row(user_id).totp_secret == secret
    done = client.post(
        "/admin/account/two-factor",
        data={
            "csrf_token": token,
            "password": PASSWORD,
            "current_code": pyotp.TOTP(secret).at(later),
            "code": pyotp.TOTP(new_secret).at(later),
        },
    )
    assert done.status_code == 302
    db.session.expire_all()
    assert current_user_row(user_id).totp_secret == new_secret


def current_user_row(user_id: int):
    from chorus.models import User

    return db.session.get(User, user_id)


def test_editor_cannot_change_a_published_campaign_through_the_edit_form(client):
    org = make_org("puentes")
    live = make_campaign(org, slug="live-one", title="Live title", status="live")
    draft = make_campaign(org, slug="draft-one", status="draft")
    make_user("leo@puentes.example", "org-editor", org)
    login(client, "leo@puentes.example")
    assert client.get("/admin/puentes/campaigns/draft-one/edit").status_code == 200
    assert client.get("/admin/puentes/campaigns/live-one/edit").status_code == 403
    token = session_csrf(client, "/admin/puentes/campaigns/draft-one/edit")
    changed = client.post(
        "/admin/puentes/campaigns/live-one/edit",
        data={"csrf_token": token, "title": "Hijacked", "slug": "live-one", "ends_at": "2000-01-01"},
    )
    assert changed.status_code == 403
    db.session.expire_all()
    assert (live.title, live.ends_at, live.require_confirmation) == ("Live title", None, True)
    assert "/edit" not in client.get("/admin/puentes/campaigns/live-one").get_data(as_text=True)
    assert draft.status == "draft"


def test_letters_confirmed_after_the_campaign_closed_or_paused_are_not_delivered(client, mailbox):
    from chorus.services import campaign_admin

    org = make_org("riverside")
    campaign = make_letter_campaign(org)
    for n, action in enumerate(("pause", "close")):
        if campaign.status != "live":
            campaign_admin.change_status(campaign, "publish")
        page = csrf_token(client.get(f"/riverside/{campaign.slug}").get_data(as_text=True))
        assert sign(client, "riverside", campaign.slug, letter(f"late{n}@example.org")).status_code == 303
        run_jobs()
        link = confirm_link(mailbox.messages[-1])
        form = csrf_token(client.get(link).get_data(as_text=True))
        campaign_admin.change_status(campaign, action)
        refused = client.post(link, data={"csrf_token": form})
        assert refused.status_code == 409
        assert "no longer taking actions" in refused.get_data(as_text=True)
        assert refused.get_data(as_text=True).count(f'href="/riverside/{campaign.slug}"') == 1  # one link back
        assert db.session.scalar(select(Delivery.id).limit(1)) is None
        assert client.get(f"/riverside/{campaign.slug}").status_code == 200
        sent = client.post(f"/riverside/{campaign.slug}", data={"csrf_token": page, **letter(f"after{n}@example.org")})
        assert sent.status_code == 409  # and no new action is taken while it is stopped

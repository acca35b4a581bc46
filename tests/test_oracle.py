"""No membership oracle: the person at the keyboard cannot learn whether an address already acted."""

from __future__ import annotations

import re

from chorus.extensions import db
from chorus.models import Suppression
from tests.factories import (
    confirm_link,
    csrf_token,
    make_campaign,
    make_letter_campaign,
    make_org,
    run_jobs,
    sign,
    supporter,
)


def _answer(client, response) -> tuple:
    """Everything a visitor sees: the POST's status, headers (but the date) and body, then the page it
    leads to, but for the live counter on it (the public count, the same for anyone who looks)."""
    headers = sorted((k, v) for k, v in response.headers.items() if k != "Date")
    page = client.get(response.headers["Location"])
    body = re.sub(rb'<section class="card tally".*?</section>', b"", page.get_data(), flags=re.S)
    return response.status_code, headers, response.get_data(), page.status_code, body


def _subjects(mailbox, address: str) -> list[str]:
    return [m["Subject"] for m in mailbox.messages if m["To"].lower() == address]


def test_repeat_signing_is_indistinguishable_from_a_first_signature(client, mailbox):
    org = make_org("puentes")
    campaign = make_campaign(org, title="Keep families together")
    first = _answer(client, sign(client, "puentes", campaign.slug, supporter("ana@example.org")))
    run_jobs()
    pending_repeat = _answer(client, sign(client, "puentes", campaign.slug, supporter("ana@example.org")))
    run_jobs()
    link = confirm_link(mailbox.messages[0])
    client.post(link, data={"csrf_token": csrf_token(client.get(link).get_data(as_text=True))})
    confirmed_repeat = _answer(client, sign(client, "puentes", campaign.slug, supporter("ANA@example.org")))
    somebody_new = _answer(client, sign(client, "puentes", campaign.slug, supporter("new@example.org")))
    assert first == pending_repeat == confirmed_repeat == somebody_new
    assert first[0] == 303 and b"Check your inbox" in first[4]

    run_jobs()  # the address's owner is told by mail instead: once an hour per campaign at most
    assert _subjects(mailbox, "ana@example.org") == [
        "Please confirm your signature: Keep families together",
        "Please confirm your signature: Keep families together",  # after the pending repeat: the confirmation again
    ]


def test_repeat_of_a_counted_action_mails_its_owner_once_an_hour_unless_unsubscribed(client, mailbox):
    org = make_org("riverside")
    campaign = make_letter_campaign(org, require_confirmation=False, title="Write to the governor")
    letter = {"subject": campaign.letter_subject, "body": campaign.letter_body}
    for address in ("ana@example.org", "gone@example.org"):
        sign(client, "riverside", campaign.slug, supporter(address, **letter))
    db.session.add(Suppression(email_normalized="gone@example.org"))
    db.session.commit()
    run_jobs()
    mailbox.clear()
    for _ in range(3):
        for address in ("ana@example.org", "gone@example.org"):
            again = sign(client, "riverside", campaign.slug, supporter(address, **letter))
            assert "Your letter is on its way." in client.get(again.headers["Location"]).get_data(as_text=True)
    run_jobs()
    [notice] = mailbox.messages
    assert notice["Subject"] == "You already sent this letter: Write to the governor"
    assert notice["To"] == "ana@example.org" and notice["List-Unsubscribe"]
    assert "nothing changed" in notice.get_body(("plain",)).get_content()


def test_spanish_supporter_gets_the_repeat_notice_in_spanish(client, mailbox):
    org = make_org("puentes")
    campaign = make_campaign(org, require_confirmation=False, title="Familias unidas")
    sign(client, "puentes", f"{campaign.slug}?lang=es", supporter())
    sign(client, "puentes", campaign.slug, supporter())
    run_jobs()
    [notice] = mailbox.messages
    assert notice["Subject"] == "Ya firmaste: Familias unidas"
    assert "Tu firma ya cuenta: no ha cambiado nada." in notice.get_body(("plain",)).get_content()

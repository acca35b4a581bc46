"""The demo coalition: four fictional members (from tenants/) and campaigns written for Chorus."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from chorus.extensions import db
from chorus.models import (
    Action,
    Campaign,
    CampaignHost,
    CampaignTarget,
    Official,
    Organization,
    PublicMessage,
    SignOn,
    User,
)
from chorus.models.base import utcnow
from chorus.services import tenants
from chorus.services.accounts import hash_password

CAMPAIGNS = [
    {
        "slug": "keep-families-together",
        "kind": "petition",
        "owner": "puentes",
        "hosts": ["puentes", "harbor-workers", "open-table", "riverside-legal"],
        "title": "Keep families together at the border",
        "addressee": "The U.S. Congress",
        "ask_location": True,  # the coalition groups signatures by district for its lobby visits
        "summary": "Children belong with their parents, not in detention centres. Add your name to ask "
        "our representatives to end family detention this year.",
        "goal": 10000,
        "body": (
            "Every week, families who arrive asking for protection are split up and held apart for "
            "months. Parents lose track of their children; children lose years of school.\n\n"
            "The members of our coalition (unions, congregations, legal aid clinics and migrant-led "
            "groups) see the damage every day. Together we ask our representatives to:\n\n"
            "1. **end the detention of children** and keep families together while their cases are heard;\n"
            "2. **fund community case management**, which costs a fraction of detention;\n"
            "3. **guarantee legal counsel** to every child in immigration court.\n\n"
            "Sign through any member's site: every signature counts in one shared total."
        ),
        "thanks_text": "Thank you. One more step doubles your impact: send this page to two people you trust.",
        "translations": {
            "es": {
                "title": "Que las familias sigan juntas en la frontera",
                "addressee": "El Congreso de los Estados Unidos",
                "summary": "Los niños deben estar con sus padres, no en centros de detención. Suma tu nombre para "
                "pedir a nuestros representantes que terminen este año con la detención de familias.",
                "body": (
                    "Cada semana, familias que llegan pidiendo protección son separadas y retenidas por "
                    "meses. Los padres pierden el rastro de sus hijos; los niños pierden años de escuela.\n\n"
                    "Los miembros de nuestra coalición (sindicatos, congregaciones, clínicas de asistencia "
                    "legal y grupos dirigidos por migrantes) vemos el daño todos los días. Juntos pedimos a "
                    "nuestros representantes:\n\n"
                    "1. **terminar con la detención de niños** y mantener unidas a las familias mientras se "
                    "resuelven sus casos;\n"
                    "2. **financiar el acompañamiento comunitario**, que cuesta una fracción de la detención;\n"
                    "3. **garantizar un abogado** a cada niño ante los tribunales de inmigración.\n\n"
                    "Firma desde el sitio de cualquier miembro: cada firma cuenta en un solo total compartido."
                ),
                "thanks_text": "Gracias. Un paso más duplica tu impacto: envía esta página a dos personas "
                "de confianza.",
            }
        },
    },
    {
        "slug": "fair-shifts",
        "kind": "petition",
        "owner": "harbor-workers",
        "hosts": ["harbor-workers"],
        "title": "Fair shifts at the port warehouses",
        "addressee": "The Port Employers' Association",
        "ask_location": False,
        "summary": "Two weeks' notice of schedules and pay for cancelled shifts, for every warehouse "
        "worker at the port.",
        "goal": 1500,
        "body": (
            "Warehouse workers at the port learn their shifts by text message the night before, and "
            "lose a day's pay when a shift is cancelled at the gate.\n\n"
            "We call on the port employers' association to publish schedules **two weeks ahead** and to "
            "pay **four hours** for any shift cancelled with less than a day's notice."
        ),
    },
]


LETTER = {
    "slug": "write-to-the-governor",
    "kind": "letter",
    "owner": "riverside-legal",
    "hosts": ["riverside-legal", "puentes", "open-table"],
    "title": "Write to the Governor: fund legal counsel for children",
    "summary": "Children face immigration judges alone. Ask the Governor and the Attorney General to fund "
    "a lawyer for every child.",
    "goal": 2000,
    "body": "Review the draft below, make it your own (a sentence about why this matters to you helps most), "
    "and send it. You will get a copy by e-mail.",
    "letter_subject": "Please fund legal counsel for every child in immigration court",
    "letter_greeting": "Dear Governor Alvarez and Attorney General Okafor,",
    "letter_body": "I live in our state and I am writing because children as young as five are appearing in "
    "immigration court without a lawyer.\n\nWith counsel, a child is several times more likely to be "
    "allowed to stay safely. Our legal aid clinics are ready to do this work; they need stable funding.\n\n"
    "I ask you to include funding for legal counsel for every child in this year's budget.",
    "letter_closing": "Thank you for your attention. I look forward to your answer.",
    "translations": {
        "es": {
            "title": "Escribe al Gobernador: abogados para todos los niños",
            "summary": "Hay niños que enfrentan solos a un juez de inmigración. Pide al Gobernador y al Fiscal "
            "General que financien un abogado para cada niño.",
            "body": "Lee el borrador, hazlo tuyo (una frase sobre por qué te importa ayuda mucho) y envíalo. "
            "Recibirás una copia por correo.",
            "letter_subject": "Financien la defensa legal de cada niño ante los tribunales de inmigración",
            "letter_greeting": "Estimados Gobernadora Alvarez y Fiscal General Okafor:",
            "letter_body": "Vivo en nuestro estado y les escribo porque niños de apenas cinco años se presentan "
            "ante los tribunales de inmigración sin abogado.\n\nCon un abogado, un niño tiene varias veces "
            "más posibilidades de quedarse a salvo. Nuestras clínicas de asistencia legal están listas para "
            "hacer este trabajo; necesitan fondos estables.\n\n"
            "Les pido que incluyan en el presupuesto de este año fondos para la defensa legal de cada niño.",
            "letter_closing": "Gracias por su atención. Quedo a la espera de su respuesta.",
        }
    },
    "targets": [
        {
            "name": "Elena Alvarez",
            "title": "Governor",
            "office": "Office of the Governor",
            "email": "governor@example.org",
        },
        {
            "name": "Samuel Okafor",
            "title": "Attorney General",
            "office": "Office of the Attorney General",
            "email": "attorney.general@example.org",
        },
    ],
}


STATEMENT = {
    "slug": "no-child-in-detention",
    "owner": "puentes",
    "hosts": ["puentes", "open-table", "riverside-legal"],
    "title": "No child belongs in detention: a coalition statement",
    "call_to_action": "We ask allies everywhere to sign on, send a word of solidarity and carry this call "
    "to their own representatives.",
    "body": (
        "We are unions, congregations, legal clinics and migrant-led groups who meet families at bus "
        "stations, in courtrooms and in church basements. What they tell us has become routine, and it "
        "should never be routine: children held for weeks in rooms built for adults, parents who cannot "
        "learn where their sons and daughters were taken, teenagers who stand before a judge with no one "
        "at their side.\n\n"
        "Detaining children does not make anyone safer. It costs more than community care, it harms "
        "children for years after their release, and it punishes people for asking for a protection the "
        "law gives them.\n\n"
        "Together we call on our governments to:\n\n"
        "1. **release children and their families** to community programs while their claims are heard;\n"
        "2. **reunite every separated family** and publish how many remain apart;\n"
        "3. **give every child a lawyer** and every family a fair hearing."
    ),
    "translations": {
        "es": {
            "title": "Ningún niño debe estar detenido: declaración de la coalición",
            "call_to_action": "Pedimos a aliados de todas partes que se adhieran, envíen un mensaje de "
            "solidaridad y lleven este llamado a sus propios representantes.",
            "body": (
                "Somos sindicatos, congregaciones, clínicas legales y grupos dirigidos por migrantes que "
                "recibimos a las familias en las estaciones de autobús, en los tribunales y en los sótanos de "
                "las iglesias. Lo que nos cuentan se ha vuelto rutina, y nunca debería serlo: niños retenidos "
                "semanas en salas hechas para adultos, padres que no logran saber adónde llevaron a sus hijos, "
                "adolescentes que comparecen ante un juez sin nadie a su lado.\n\n"
                "Detener a niños no da más seguridad a nadie. Cuesta más que el cuidado comunitario, daña a los "
                "niños durante años después de su liberación y castiga a quienes piden una protección que la "
                "ley les reconoce.\n\n"
                "Juntos pedimos a nuestros gobiernos:\n\n"
                "1. **liberar a los niños y a sus familias** hacia programas comunitarios mientras se resuelven "
                "sus solicitudes;\n"
                "2. **reunir a cada familia separada** y publicar cuántas siguen separadas;\n"
                "3. **dar un abogado a cada niño** y una audiencia justa a cada familia."
            ),
        }
    },
    "moderators": [
        ("amara.moderator@demo.invalid", "Amara (demo moderator)"),
        ("luis.moderator@demo.invalid", "Luis (demo moderator)"),
    ],
    "pending_sign_on": {
        "organization_name": "Valley Teachers for Immigrant Students",
        "contact_name": "Grace Whitfield",
        "email": "grace@valley-teachers.example.net",
        "website": "https://valley-teachers.example.net",
        "message": "Our classrooms have empty chairs this year. We stand with you.",
    },
    "pending_message": (
        "Tomás",
        "Peralta",
        "tomas.peralta@example.net",
        "From our parish in Fresno: you are not alone.",
    ),
}


def load() -> list[str]:
    """Sync tenants/, then create the demo campaigns that do not exist yet (safe to run again)."""
    tenants.sync(Path(current_app.config["CHORUS_TENANTS_DIR"]))
    orgs = {o.slug: o for o in db.session.scalars(select(Organization))}
    created = []
    for spec in CAMPAIGNS:
        if db.session.scalar(select(Campaign.id).where(Campaign.slug == spec["slug"])):
            continue
        campaign = Campaign(
            slug=spec["slug"],
            kind=spec["kind"],
            owner_org_id=orgs[spec["owner"]].id,
            title=spec["title"],
            summary=spec["summary"],
            body=spec["body"],
            goal=spec["goal"],
            addressee=spec["addressee"],
            ask_location=spec["ask_location"],
            thanks_text=spec.get("thanks_text", ""),
            translations=spec.get("translations", {}),
            status="live",
            hosts=[CampaignHost(org_id=orgs[slug].id, accepted=True) for slug in spec["hosts"]],
        )
        db.session.add(campaign)
        created.append(spec["slug"])
    if not db.session.scalar(select(Campaign.id).where(Campaign.slug == LETTER["slug"])):
        db.session.add(_letter_campaign(orgs))
        created.append(LETTER["slug"])
    db.session.commit()
    if not db.session.scalar(select(Campaign.id).where(Campaign.slug == STATEMENT["slug"])):
        _statement(orgs)
        created.append(STATEMENT["slug"])
    _translate()
    return created


def _translate() -> None:
    """Demo databases loaded before translations existed get the Spanish texts (only where none is written)."""
    from chorus.services import content, statements

    for spec in [*CAMPAIGNS, LETTER, STATEMENT]:
        campaign = db.session.scalar(select(Campaign).where(Campaign.slug == spec["slug"]))
        if campaign is None or not spec.get("translations"):
            continue
        if campaign.kind == "statement":
            version = statements.current_version(campaign)
            if version is not None and not version.translations:
                version.translations = spec["translations"]
                content.mirror_version(campaign, version)
        elif not campaign.translations:
            campaign.translations = spec["translations"]
            campaign.thanks_text = campaign.thanks_text or spec.get("thanks_text", "")
    db.session.commit()


def _statement(orgs: dict[str, Organization]) -> None:
    """Written by one demo moderator and approved by the other (nobody approves their own text), signed
    by the four members, with one ally's sign-on and one solidarity message waiting in the queue."""
    from chorus.services import moderation, statements, tally

    author, approver = (_moderator(email, name) for email, name in STATEMENT["moderators"])
    draft = statements.Draft(
        STATEMENT["title"], STATEMENT["body"], STATEMENT["call_to_action"], STATEMENT["translations"]
    )
    hosts = [orgs[slug] for slug in STATEMENT["hosts"]]
    campaign = statements.create(orgs[STATEMENT["owner"]], author, STATEMENT["slug"], draft, hosts, "alphabetical")
    version = statements.current_version(campaign) or statements.versions(campaign)[0]
    moderation.decide(approver, "version", [version.id], "approve")
    version = statements.current_version(campaign)
    now = utcnow()
    for org in orgs.values():
        db.session.add(
            _demo_sign_on(
                campaign,
                org,
                version,
                status="approved",
                member=org,
                organization_name=org.name,
                contact_name="Coordinator",
                email=f"coordinator@{org.slug}.example.org",
                website=org.website,
                confirmed_at=now,
                decided_at=now,
            )
        )
    pending = STATEMENT["pending_sign_on"]
    db.session.add(
        _demo_sign_on(campaign, orgs["open-table"], version, status="pending", member=None, confirmed_at=now, **pending)
    )
    first, last, email, text = STATEMENT["pending_message"]
    action = Action(
        campaign_id=campaign.id,
        org_id=orgs["open-table"].id,
        email=email,
        email_normalized=email,
        first_name=first,
        last_name=last,
        comment=text,
        status="confirmed",
        confirmed_at=now,
    )
    db.session.add(action)
    db.session.flush()
    db.session.add(
        PublicMessage(
            campaign_id=campaign.id,
            org_id=action.org_id,
            action_id=action.id,
            author_name=f"{first} {last[0]}.",
            body=text,
        )
    )
    db.session.commit()
    tally.rebuild(campaign.id, force=True)
    tally.forget_campaign(campaign.slug)


def _moderator(email: str, name: str) -> User:
    """A demo account with a password nobody knows: sign in with your own (`chorus admin create`)."""
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=name, password_hash=hash_password(secrets.token_urlsafe(24)))
        db.session.add(user)
    user.is_moderator = True
    db.session.commit()
    return user


def _demo_sign_on(campaign: Campaign, site: Organization, version, *, status: str, member, **fields) -> SignOn:
    from chorus.services.statements import normalize_name, verified_domain

    return SignOn(
        campaign_id=campaign.id,
        org_id=site.id,
        member_org_id=member.id if member else None,
        version_id=version.id,
        name_normalized=normalize_name(fields["organization_name"]),
        email_normalized=fields["email"],
        verified_domain=verified_domain(fields["email"], fields["website"]),
        status=status,
        **fields,
    )


def _letter_campaign(orgs: dict[str, Organization]) -> Campaign:
    """Delivered one by one to fixed targets at example.org: a new user sees letters in the outbox."""
    fields = {k: v for k, v in LETTER.items() if k not in ("owner", "hosts", "targets")}
    campaign = Campaign(**fields, owner_org_id=orgs[LETTER["owner"]].id, status="live")
    campaign.hosts = [CampaignHost(org_id=orgs[slug].id, accepted=True) for slug in LETTER["hosts"]]
    for spec in LETTER["targets"]:
        official = db.session.scalar(select(Official).where(Official.email == spec["email"]))
        if official is None:
            official = Official(**spec, country="US")
        campaign.targets.append(CampaignTarget(official=official))
    return campaign

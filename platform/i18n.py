"""English and Spanish. The English text is the message id; Spanish lives in a catalog below.

The language is chosen once per request: `?lang=` (remembered in a cookie), then the cookie, then
the browser's Accept-Language. Jobs set `g.lang` from the supporter's recorded language.
"""

from __future__ import annotations

from flask import Flask, g, has_request_context, request

LANGUAGES = {"en": "English", "es": "Español"}

ES = {
    "petition": "petición",
    "letter": "carta",
    "statement": "declaración",
    "Sign": "Firmar",
    "Sign the petition": "Firma la petición",
    "Send the letter": "Envía la carta",
    "Endorse the statement": "Respalda la declaración",
    "First name": "Nombre",
    "Last name": "Apellido",
    "Email": "Correo electrónico",
    "Postal code": "Código postal",
    "Country": "País",
    "Comment (optional)": "Comentario (opcional)",
    "Share my details with": "Compartir mis datos con",
    "signatures": "firmas",
    "signature": "firma",
    "letter sent": "carta enviada",
    "letters sent": "cartas enviadas",
    "endorsement": "respaldo",
    "endorsements": "respaldos",
    "Goal": "Meta",
    "By member site": "Por sitio miembro",
    "Members of the coalition": "Organizaciones miembro de la coalición",
    "Campaigns": "Campañas",
    "Shared campaigns": "Campañas compartidas",
    "Hosted by": "Alojada por",
    "Also hosted by": "También alojada por",
    "This campaign is closed.": "Esta campaña está cerrada.",
    "This campaign is paused.": "Esta campaña está en pausa.",
    "Thank you!": "¡Gracias!",
    "Check your inbox": "Revisa tu bandeja de entrada",
    "We sent you an e-mail. Open the link in it and press the button to confirm your signature: "
    "only confirmed signatures count.": "Te enviamos un correo. Abre el enlace y pulsa el botón para "
    "confirmar tu firma: solo cuentan las firmas confirmadas.",
    "Your signature counts.": "Tu firma cuenta.",
    "This address has already signed this campaign; nothing changed.": "Esta dirección ya firmó esta "
    "campaña; no ha cambiado nada.",
    "This address has already signed but has not confirmed yet. Check your inbox for the "
    "confirmation e-mail.": "Esta dirección ya firmó pero aún no lo ha confirmado. Busca el correo "
    "de confirmación en tu bandeja de entrada.",
    "Confirm your signature": "Confirma tu firma",
    "Confirm": "Confirmar",
    "Press the button to confirm that you signed": "Pulsa el botón para confirmar que firmaste",
    "Confirmed. Thank you!": "Confirmado. ¡Gracias!",
    "This confirmation link is not valid.": "Este enlace de confirmación no es válido.",
    "This signature was already confirmed.": "Esta firma ya estaba confirmada.",
    "Please confirm your signature: %(title)s": "Confirma tu firma: %(title)s",
    "Your letter: %(title)s": "Tu carta: %(title)s",
    "Here is a copy of the letter you sent. It goes to:": "Esta es una copia de la carta que enviaste. Va dirigida a:",
    "Subject": "Asunto",
    "Your letter": "Tu carta",
    "Greeting (fixed)": "Saludo (fijo)",
    "Closing (fixed)": "Despedida (fija)",
    "Preview": "Vista previa",
    "Your letter goes to": "Tu carta va dirigida a",
    "Enter your postal code and press Preview to see who your letter goes to.": "Escribe tu código postal y "
    "pulsa Vista previa para ver a quién va dirigida tu carta.",
    "We found no decision maker for this postal code.": "No encontramos a ningún responsable para este código postal.",
    "The greeting and closing of this letter cannot be changed.": "El saludo y la despedida de esta carta no se "
    "pueden cambiar.",
    "This is how your letter will read.": "Así se leerá tu carta.",
    "Please correct the errors below.": "Corrige los errores indicados abajo.",
    "This field is required.": "Este campo es obligatorio.",
    "Enter a valid e-mail address.": "Escribe una dirección de correo válida.",
    "Too long: at most %(max)d characters.": "Demasiado largo: como máximo %(max)d caracteres.",
    "Contains characters that are not allowed.": "Contiene caracteres no permitidos.",
    "Choose a country from the list.": "Elige un país de la lista.",
    "Choose among the member sites listed.": "Elige entre los sitios miembros de la lista.",
    "The form expired or was not sent by this site. Please submit it again.": "El formulario caducó o "
    "no se envió desde este sitio. Envíalo de nuevo.",
    "Too many submissions from your network; please try again in a minute.": "Demasiados envíos desde "
    "tu red; inténtalo de nuevo en un minuto.",
    "Page not found": "Página no encontrada",
    "We could not find that page.": "No encontramos esa página.",
    "Something went wrong": "Algo salió mal",
    "Back to the home page": "Volver a la página principal",
    "You are unsubscribed.": "Has cancelado tu suscripción.",
    "Unsubscribe": "Cancelar suscripción",
    "Press the button to stop receiving campaign e-mails at this address.": "Pulsa el botón para dejar "
    "de recibir correos de campañas en esta dirección.",
    "Share": "Compartir",
    "Tell your friends": "Cuéntaselo a tus amistades",
    "Language": "Idioma",
    "A coalition campaign hosted by %(count)d members": "Una campaña de la coalición alojada por %(count)d miembros",
    "Skip to content": "Saltar al contenido",
    "Request too large.": "Solicitud demasiado grande.",
    "Only the member sites you tick will receive your details.": "Solo los sitios miembros que marques "
    "recibirán tus datos.",
    "Hello %(name)s,": "Hola %(name)s:",
    "Thank you for signing “%(title)s” on the site of %(org)s.": "Gracias por firmar «%(title)s» en el "
    "sitio de %(org)s.",
    "To make your signature count, open this link and press the Confirm button:": "Para que tu firma "
    "cuente, abre este enlace y pulsa el botón Confirmar:",
    "If you did not sign, ignore this message: nothing will be counted.": "Si no firmaste, ignora este "
    "mensaje: no se contará nada.",
    # Image uploads (chorus.services.uploads), also shown to organizations signing on to statements.
    "The file is empty.": "El archivo está vacío.",
    "The file is too big: at most %(size)d kB.": "El archivo es demasiado grande: como máximo %(size)d kB.",
    "The image is too large: at most 40 megapixels.": "La imagen es demasiado grande: como máximo 40 megapíxeles.",
    "This file is not a PNG, JPEG, WebP or SVG image, or it is damaged.": "Este archivo no es una imagen PNG, "
    "JPEG, WebP o SVG, o está dañado.",
    "This SVG file is not valid XML (for example an unescaped &).": "Este archivo SVG no es XML válido (por "
    "ejemplo, un & sin escapar).",
    "This file is not an SVG image (its root must be <svg> in the SVG namespace).": "Este archivo no es una "
    "imagen SVG (su raíz debe ser <svg> en el espacio de nombres SVG).",
    # Campaign pages, thanks and confirmation: the next step after acting.
    "To": "Para",
    "Next milestone": "Próxima meta",
    "Hosted by 1 member": "Alojada por 1 miembro",
    "I just signed “%(title)s”. Will you add your name too?": "Acabo de firmar «%(title)s». ¿Añades tu "
    "nombre tú también?",
    "Ask your friends to join you": "Pide a tus amistades que se sumen",
    "By e-mail": "Por correo",
    "Or copy the link": "O copia el enlace",
    "More campaigns of the coalition": "Más campañas de la coalición",
    "Campaigns of the coalition": "Campañas de la coalición",
    "Campaigns of one member": "Campañas de un solo miembro",
}

CATALOGS = {"es": ES}


def current_lang() -> str:
    """Chosen on first use, so error pages raised before any view (404 on a member) are translated."""
    if "lang" not in g:
        g.lang = _choose_language() if has_request_context() else "en"
    return g.lang


def translate(message: str, lang: str | None = None) -> str:
    return CATALOGS.get(lang or current_lang(), {}).get(message, message)


def gettext(message: str, **values) -> str:
    text = translate(message)
    return text % values if values else text


def _choose_language() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        g.remember_lang = True
        return asked
    cookie = request.cookies.get("lang")
    return cookie if cookie in LANGUAGES else (request.accept_languages.best_match(LANGUAGES) or "en")


def _remember_language(response):
    if getattr(g, "remember_lang", False):
        response.set_cookie("lang", current_lang(), max_age=365 * 86400, samesite="Lax")
    response.vary.add("Cookie")
    response.vary.add("Accept-Language")
    return response


def init_app(app: Flask) -> None:
    app.after_request(_remember_language)
    app.jinja_env.globals.update(_=gettext, LANGUAGES=LANGUAGES, current_lang=current_lang)

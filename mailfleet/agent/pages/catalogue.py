"""Every string the agent's public pages (signup forms, their confirmation, unsubscribe) and
the default confirmation mail show, per language.

One catalogue, so a translator reads one file: English, German, French and Spanish. A page
asks :func:`text` for a message id in the form's language; a language or id the catalogue
lacks falls back to English, so a page never shows an id.
"""

from __future__ import annotations

from collections.abc import Sequence

LANGUAGES = ("en", "de", "fr", "es")
DEFAULT_LANGUAGE = "en"

_MESSAGES: dict[str, dict[str, str]] = {
    "email": {
        "en": "Email address",
        "de": "E-Mail-Adresse",
        "fr": "Adresse e-mail",
        "es": "Correo electrónico",
    },
    "subscribe": {
        "en": "Subscribe",
        "de": "Anmelden",
        "fr": "S'inscrire",
        "es": "Suscribirse",
    },
    "lists": {
        "en": "Lists",
        "de": "Listen",
        "fr": "Listes",
        "es": "Listas",
    },
    "success": {
        "en": "Thank you! Please check your inbox and confirm your address.",
        "de": "Danke! Bitte sehen Sie in Ihr Postfach und bestätigen Sie Ihre Adresse.",
        "fr": "Merci ! Consultez votre boîte de réception et confirmez votre adresse.",
        "es": "¡Gracias! Revise su bandeja de entrada y confirme su dirección.",
    },
    "success_single": {
        "en": "Thank you! You are subscribed.",
        "de": "Danke! Sie sind angemeldet.",
        "fr": "Merci ! Vous êtes inscrit.",
        "es": "¡Gracias! Ya está suscrito.",
    },
    "error": {
        "en": "Please correct the fields marked below.",
        "de": "Bitte korrigieren Sie die markierten Felder.",
        "fr": "Veuillez corriger les champs indiqués ci-dessous.",
        "es": "Corrija los campos indicados a continuación.",
    },
    "required": {
        "en": "This field is required.",
        "de": "Dieses Feld ist erforderlich.",
        "fr": "Ce champ est obligatoire.",
        "es": "Este campo es obligatorio.",
    },
    "bad_email": {
        "en": "Enter a valid email address.",
        "de": "Geben Sie eine gültige E-Mail-Adresse ein.",
        "fr": "Saisissez une adresse e-mail valide.",
        "es": "Introduzca un correo electrónico válido.",
    },
    "bad_number": {
        "en": "Enter a number.",
        "de": "Geben Sie eine Zahl ein.",
        "fr": "Saisissez un nombre.",
        "es": "Introduzca un número.",
    },
    "bad_date": {
        "en": "Enter a date (YYYY-MM-DD).",
        "de": "Geben Sie ein Datum ein (JJJJ-MM-TT).",
        "fr": "Saisissez une date (AAAA-MM-JJ).",
        "es": "Introduzca una fecha (AAAA-MM-DD).",
    },
    "bad_choice": {
        "en": "Choose one of the options.",
        "de": "Wählen Sie eine der Möglichkeiten.",
        "fr": "Choisissez l'une des options.",
        "es": "Elija una de las opciones.",
    },
    "too_long": {
        "en": "This is too long.",
        "de": "Das ist zu lang.",
        "fr": "C'est trop long.",
        "es": "Es demasiado largo.",
    },
    "invalid": {
        "en": "This value is not valid.",
        "de": "Dieser Wert ist ungültig.",
        "fr": "Cette valeur n'est pas valide.",
        "es": "Este valor no es válido.",
    },
    "consent_required": {
        "en": "Tick the box to agree.",
        "de": "Setzen Sie das Häkchen, um zuzustimmen.",
        "fr": "Cochez la case pour donner votre accord.",
        "es": "Marque la casilla para aceptar.",
    },
    "list_required": {
        "en": "Choose at least one list.",
        "de": "Wählen Sie mindestens eine Liste.",
        "fr": "Choisissez au moins une liste.",
        "es": "Elija al menos una lista.",
    },
    "retry": {
        "en": "The form could not be sent. Please try again.",
        "de": "Das Formular konnte nicht gesendet werden. Bitte versuchen Sie es erneut.",
        "fr": "Le formulaire n'a pas pu être envoyé. Veuillez réessayer.",
        "es": "No se pudo enviar el formulario. Inténtelo de nuevo.",
    },
    "too_many": {
        "en": "This form is taking no more signups today. Please try again tomorrow.",
        "de": "Dieses Formular nimmt heute keine Anmeldungen mehr an. Bitte morgen erneut.",
        "fr": "Ce formulaire n'accepte plus d'inscriptions aujourd'hui. Réessayez demain.",
        "es": "Este formulario no acepta más suscripciones hoy. Inténtelo mañana.",
    },
    "closed": {
        "en": "This form is closed.",
        "de": "Dieses Formular ist geschlossen.",
        "fr": "Ce formulaire est fermé.",
        "es": "Este formulario está cerrado.",
    },
    "archive_title": {
        "en": "Past issues",
        "de": "Frühere Ausgaben",
        "fr": "Anciens numéros",
        "es": "Números anteriores",
    },
    "archive_empty": {
        "en": "Nothing has been published here yet.",
        "de": "Hier ist noch nichts erschienen.",
        "fr": "Rien n'a encore été publié ici.",
        "es": "Todavía no se ha publicado nada aquí.",
    },
    "not_found_title": {
        "en": "Not found",
        "de": "Nicht gefunden",
        "fr": "Introuvable",
        "es": "No encontrado",
    },
    "not_found": {
        "en": "This link is not valid.",
        "de": "Dieser Link ist ungültig.",
        "fr": "Ce lien n'est pas valide.",
        "es": "Este enlace no es válido.",
    },
    "confirm_title": {
        "en": "Confirm your subscription",
        "de": "Anmeldung bestätigen",
        "fr": "Confirmez votre inscription",
        "es": "Confirme su suscripción",
    },
    "confirm_question": {
        "en": "Subscribe {email}?",
        "de": "{email} anmelden?",
        "fr": "Inscrire {email} ?",
        "es": "¿Suscribir {email}?",
    },
    "confirm_button": {
        "en": "Confirm",
        "de": "Bestätigen",
        "fr": "Confirmer",
        "es": "Confirmar",
    },
    "confirmed": {
        "en": "Your subscription is confirmed. Thank you!",
        "de": "Ihre Anmeldung ist bestätigt. Danke!",
        "fr": "Votre inscription est confirmée. Merci !",
        "es": "Su suscripción está confirmada. ¡Gracias!",
    },
    "expired": {
        "en": "This confirmation link has expired. Please sign up again.",
        "de": "Dieser Bestätigungslink ist abgelaufen. Bitte melden Sie sich erneut an.",
        "fr": "Ce lien de confirmation a expiré. Veuillez vous inscrire à nouveau.",
        "es": "Este enlace de confirmación ha caducado. Vuelva a suscribirse.",
    },
    "sign_up_again": {
        "en": "Sign up again",
        "de": "Erneut anmelden",
        "fr": "S'inscrire à nouveau",
        "es": "Volver a suscribirse",
    },
    "unsubscribe_title": {
        "en": "Unsubscribe",
        "de": "Abmelden",
        "fr": "Se désinscrire",
        "es": "Darse de baja",
    },
    "unsubscribe_question": {
        "en": "Stop sending these emails to {email}?",
        "de": "Keine dieser E-Mails mehr an {email} senden?",
        "fr": "Ne plus envoyer ces e-mails à {email} ?",
        "es": "¿Dejar de enviar estos correos a {email}?",
    },
    "unsubscribe_button": {
        "en": "Unsubscribe",
        "de": "Abmelden",
        "fr": "Se désinscrire",
        "es": "Darse de baja",
    },
    "unsubscribed_title": {
        "en": "Unsubscribed",
        "de": "Abgemeldet",
        "fr": "Désinscription effectuée",
        "es": "Baja confirmada",
    },
    "unsubscribed": {
        "en": "You will not get these emails again.",
        "de": "Sie erhalten diese E-Mails nicht mehr.",
        "fr": "Vous ne recevrez plus ces e-mails.",
        "es": "No volverá a recibir estos correos.",
    },
    "preferences_title": {
        "en": "Your subscriptions",
        "de": "Ihre Abonnements",
        "fr": "Vos abonnements",
        "es": "Sus suscripciones",
    },
    "preferences_intro": {
        "en": "The lists {email} gets mail from. Untick a list to leave it:",
        "de": "Die Listen, von denen {email} E-Mails erhält. Ohne Häkchen verlassen Sie eine:",
        "fr": "Les listes dont {email} reçoit des e-mails. Décochez une liste pour la quitter :",
        "es": "Las listas de las que {email} recibe correos. Desmarque una lista para dejarla:",
    },
    "preferences_fields": {
        "en": "Your details",
        "de": "Ihre Angaben",
        "fr": "Vos informations",
        "es": "Sus datos",
    },
    "preferences_save": {
        "en": "Save",
        "de": "Speichern",
        "fr": "Enregistrer",
        "es": "Guardar",
    },
    "preferences_saved": {
        "en": "Your choices are saved.",
        "de": "Ihre Auswahl ist gespeichert.",
        "fr": "Vos choix sont enregistrés.",
        "es": "Sus preferencias se han guardado.",
    },
    "preferences_none": {
        "en": "This email was not sent to a list you can leave on its own.",
        "de": "Diese E-Mail ging an keine Liste, die Sie einzeln verlassen können.",
        "fr": "Cet e-mail n'a été envoyé à aucune liste que vous pouvez quitter seule.",
        "es": "Este correo no se envió a una lista que pueda dejar por separado.",
    },
    "leave_everything": {
        "en": "Unsubscribe from everything",
        "de": "Von allem abmelden",
        "fr": "Se désinscrire de tout",
        "es": "Darse de baja de todo",
    },
    "mail_subject": {
        "en": "Please confirm your subscription",
        "de": "Bitte bestätigen Sie Ihre Anmeldung",
        "fr": "Veuillez confirmer votre inscription",
        "es": "Confirme su suscripción",
    },
    "mail_body": {
        "en": "Please confirm your subscription by opening this link:",
        "de": "Bitte bestätigen Sie Ihre Anmeldung über diesen Link:",
        "fr": "Veuillez confirmer votre inscription en ouvrant ce lien :",
        "es": "Confirme su suscripción abriendo este enlace:",
    },
    "mail_ignore": {
        "en": "If you did not sign up, ignore this message: nothing happens without your click.",
        "de": "Wenn Sie sich nicht angemeldet haben, ignorieren Sie diese Nachricht.",
        "fr": "Si vous ne vous êtes pas inscrit, ignorez ce message.",
        "es": "Si no se ha suscrito, ignore este mensaje.",
    },
}


def text(message_id: str, language: str) -> str:
    """The message in ``language`` (English when the catalogue lacks it)."""
    entry = _MESSAGES[message_id]
    return entry.get(language) or entry[DEFAULT_LANGUAGE]


def pick_language(accept_language: str, default: str = "") -> str:
    """The first of the catalogue's languages an ``Accept-Language`` header asks for (by
    weight, then order); ``default`` (if the catalogue has it, else English) when it names
    none of them."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        primary = tag.strip().lower().split("-", 1)[0]
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, position, primary))
    if ranked:
        return min(ranked)[2]
    return default if default in LANGUAGES else DEFAULT_LANGUAGE


LANGUAGE_TAG = "lang:"


def choose_language(tags: Sequence[str], accept_language: str, default: str = "") -> str:
    """The language of a page about a campaign's message: the campaign's own (a tag
    ``lang:de``), else what the browser's ``Accept-Language`` asks for, else ``default``."""
    for tag in tags:
        language = tag.removeprefix(LANGUAGE_TAG)
        if tag.startswith(LANGUAGE_TAG) and language in LANGUAGES:
            return language
    return pick_language(accept_language, default)


def missing() -> list[tuple[str, str]]:
    """(message id, language) pairs the catalogue has no translation for: none, as a test
    checks."""
    return [
        (mid, lang) for mid, entry in _MESSAGES.items() for lang in LANGUAGES if not entry.get(lang)
    ]

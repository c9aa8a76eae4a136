"""E-mail texts in English and French, rendered as plain text and HTML (Jinja, autoescaped).

Each message is a subject, paragraphs, an optional button (label and link) and a footer saying
why the reader gets it, with the unsubscribe link. Add a language by adding a column to CATALOG.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, StrictUndefined

import payouts

LANGUAGES = ("en", "fr")

CATALOG: dict[str, dict[str, dict[str, Any]]] = {
    "offer_waiting": {
        "en": {"subject": "A question is waiting for you at {brand}",
               "body": ["Hello {name},",
                        "A customer of {brand} is waiting for an expert on “{topic}”:",
                        "“{question}”",
                        "Reward: {reward}. Open the expert console and go online to take it."],
               "button": "Open the expert console"},
        "fr": {"subject": "Une question vous attend chez {brand}",
               "body": ["Bonjour {name},",
                        "Un client de {brand} attend un expert sur « {topic} » :",
                        "« {question} »",
                        "Récompense : {reward}. Ouvrez la console expert et passez en ligne pour la prendre."],
               "button": "Ouvrir la console expert"},
    },
    "digest": {
        "en": {"subject": "Your GigCX earnings on {day}",
               "body": ["Hello {name},",
                        "In the last 24 hours you resolved {resolved} case(s) and earned {earned}.",
                        "Pending (in review): {pending}. Available for payout: {available}. Paid so far: {paid}."],
               "button": "See your earnings"},
        "fr": {"subject": "Vos gains GigCX du {day}",
               "body": ["Bonjour {name},",
                        "Ces dernières 24 heures, vous avez résolu {resolved} cas et gagné {earned}.",
                        "En attente (en revue) : {pending}. Disponible pour paiement : {available}. "
                        "Déjà payé : {paid}."],
               "button": "Voir vos gains"},
    },
    "payout_sent": {
        "en": {"subject": "Payout sent: {amount}",
               "body": ["Hello {name},", "We sent you a payout of {amount} (payout #{payout_id}).",
                        "It can take a few days to reach your bank account."],
               "button": "See your earnings"},
        "fr": {"subject": "Paiement envoyé : {amount}",
               "body": ["Bonjour {name},", "Nous vous avons envoyé un paiement de {amount} (paiement n° {payout_id}).",
                        "Il peut mettre quelques jours à arriver sur votre compte bancaire."],
               "button": "Voir vos gains"},
    },
    "payout_failed": {
        "en": {"subject": "Payout failed: {amount}",
               "body": ["Hello {name},", "Your payout of {amount} (payout #{payout_id}) failed: {reason}.",
                        "The amount is back in your available balance and will be paid with the next run."],
               "button": "Check your payout account"},
        "fr": {"subject": "Échec du paiement : {amount}",
               "body": ["Bonjour {name},", "Votre paiement de {amount} (paiement n° {payout_id}) a échoué : {reason}.",
                        "Le montant est de nouveau disponible et sera payé lors du prochain versement."],
               "button": "Vérifier votre compte de paiement"},
    },
    "escalation": {
        "en": {"subject": "Case #{case_id} was escalated to your team",
               "body": ["A case of {brand} needs your team.", "Topic: {topic}. Reason: {reason}",
                        "“{question}”"],
               "button": "Answer in the brand console"},
        "fr": {"subject": "Le cas n° {case_id} a été transmis à votre équipe",
               "body": ["Un cas de {brand} a besoin de votre équipe.", "Sujet : {topic}. Motif : {reason}",
                        "« {question} »"],
               "button": "Répondre dans la console marque"},
    },
    "endpoint_disabled": {
        "en": {"subject": "Webhook endpoint disabled: {url}",
               "body": ["Deliveries to {url} have failed since {since}, so the endpoint was disabled.",
                        "Last error: {error}",
                        "Fix the endpoint, enable it again in the brand console, and replay what it missed."],
               "button": "Open the integrations"},
        "fr": {"subject": "Point de terminaison webhook désactivé : {url}",
               "body": ["Les envois vers {url} échouent depuis {since} : le point de terminaison a été désactivé.",
                        "Dernière erreur : {error}",
                        "Corrigez-le, réactivez-le dans la console marque et renvoyez ce qu'il a manqué."],
               "button": "Ouvrir les intégrations"},
    },
}

FOOTER = {
    "en": "You get this e-mail because you asked for {list}. Unsubscribe: {unsubscribe}",
    "fr": "Vous recevez cet e-mail car vous avez demandé : {list}. Se désabonner : {unsubscribe}",
}
FOOTER_LINK = {"en": "Unsubscribe", "fr": "Se désabonner"}
LIST_NAMES = {
    "en": {"offers": "e-mails about waiting questions", "digest": "a daily digest of your earnings",
           "payouts": "payout notices", "escalations": "e-mails about escalated cases",
           "alerts": "alerts about your integrations"},
    "fr": {"offers": "les e-mails sur les questions en attente", "digest": "un récapitulatif quotidien de vos gains",
           "payouts": "les avis de paiement", "escalations": "les e-mails sur les cas transmis",
           "alerts": "les alertes sur vos intégrations"},
}

_env = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
_HTML = _env.from_string("""<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family: system-ui, sans-serif; color: #1f2937; max-width: 560px; margin: 0 auto; padding: 16px">
{% for p in paragraphs %}<p>{{ p }}</p>
{% endfor %}{% if link %}<p><a href="{{ link }}" style="display: inline-block; background: #2563eb; color: #fff; padding: 10px 16px; border-radius: 6px; text-decoration: none">{{ button }}</a></p>
{% endif %}<hr style="border: none; border-top: 1px solid #e5e7eb">
<p style="font-size: 12px; color: #6b7280">{{ why }} <a href="{{ unsubscribe }}">{{ unsubscribe_label }}</a></p>
</body></html>
""")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def language(lang: str | None) -> str:
    """A language we have texts in ("fr-CA" -> "fr"), English otherwise."""
    base = (lang or "en").split("-")[0].lower()
    return base if base in LANGUAGES else "en"


def render(template: str, lang: str, values: dict[str, Any], *, link: str | None, list_name: str,
           unsubscribe: str) -> Rendered:
    """Subject, plain text and HTML of one message."""
    lang = language(lang)
    t = CATALOG[template][lang]
    subject = t["subject"].format(**values)
    paragraphs = [p.format(**values) for p in t["body"]]
    why_list = LIST_NAMES[lang][list_name]
    text = "\n\n".join(paragraphs)
    if link:
        text += f"\n\n{t['button']}: {link}"
    text += "\n\n-- \n" + FOOTER[lang].format(list=why_list, unsubscribe=unsubscribe) + "\n"
    why = FOOTER[lang].split("{unsubscribe}")[0].replace(" Unsubscribe:", "").replace(" Se désabonner :", "")
    html = _HTML.render(lang=lang, subject=subject, paragraphs=paragraphs, link=link, button=t["button"],
                        why=why.format(list=why_list).strip(), unsubscribe=unsubscribe,
                        unsubscribe_label=FOOTER_LINK[lang])
    return Rendered(subject, text, html)


def money(cents: int, currency: str, lang: str) -> str:
    """12.50 USD (English) or 12,50 USD (French), in the currency's own precision (1,234 JPY)."""
    whole, _, frac = payouts.format_minor(abs(cents), currency).partition(".")
    amount = ("-" if cents < 0 else "") + f"{int(whole):,}" + (f".{frac}" if frac else "")
    if language(lang) == "fr":
        amount = amount.replace(",", "\u202f").replace(".", ",")
    return f"{amount} {currency.upper()}"

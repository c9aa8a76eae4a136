"""`/unsubscribe/<token>`: every e-mail's link out of its list, without logging in.

The token is signed with the secret key and names the person and the list, so it can neither be
guessed nor turned against anybody else. Opening the link unsubscribes at once (people expect
one click; a page that asks again is a dark pattern); the page offers to undo it. Mail clients'
one-click unsubscribe (RFC 8058) POSTs `List-Unsubscribe=One-Click` to the same URL.
"""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from gigcx.auth import public
from gigcx.db import request_session
from gigcx.services import mail, mailtext
from gigcx.uow import transactional

bp = Blueprint("unsubscribe", __name__, template_folder="templates")

TEXT = {
    "en": {"title": "E-mail preferences", "off": "You will no longer get {list}.", "on": "You will get {list} again.",
           "undo": "Subscribe again", "again": "Unsubscribe", "bad": "This unsubscribe link is not valid."},
    "fr": {"title": "Préférences d'e-mail", "off": "Vous ne recevrez plus {list}.", "on": "Vous recevrez de nouveau {list}.",
           "undo": "Se réabonner", "again": "Se désabonner", "bad": "Ce lien de désabonnement n'est pas valide."},
}


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@public  # the signed link is the credential
@transactional
def unsubscribe(token: str) -> Response:
    """Leave (or, with `action=subscribe`, rejoin) the list the token names."""
    found = mail.read_token(token)
    if found is None:
        return _page(render_template("unsubscribe.html", t=TEXT["en"], message=TEXT["en"]["bad"], token=None,
                                     lang="en"), 404)
    owner, list_name = found
    session = request_session()
    on = request.method == "POST" and request.form.get("action") == "subscribe"
    mail.set_subscription(session, owner, list_name, on)
    lang = mailtext.language(mail.prefs(session, owner).language)
    t = TEXT[lang]
    message = t["on" if on else "off"].format(list=mailtext.LIST_NAMES[lang][list_name])
    return _page(render_template("unsubscribe.html", t=t, message=message, token=token, subscribed=on, lang=lang))


def _page(html: str, status: int = 200) -> Response:
    resp = Response(html, status=status, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'self'; form-action 'self'; "
                                               "base-uri 'none'; frame-ancestors 'none'")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp

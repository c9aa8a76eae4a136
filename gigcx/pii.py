"""Masking of personal data in what experts receive (brands always read the original)."""
from __future__ import annotations

import re

# Order matters: the most specific patterns run first so a card number is not called a phone.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b", re.IGNORECASE)
_DIGIT_RUN = re.compile(r"(?<![\w])\+?\d(?:[\d \-./()]{5,30}\d)(?![\w])")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_URL_CREDS = re.compile(r"(\w+://)[^/\s:@]+:[^/\s@]+@")
_DATE = re.compile(r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})$")


def _luhn_ok(digits: str) -> bool:
    total, alt = 0, False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if alt:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        alt = not alt
    return total % 10 == 0


def _digits(match: re.Match[str]) -> str:
    raw = match.group(0)
    if _DATE.match(raw):
        return raw
    digits = re.sub(r"\D", "", raw)
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return "[card number]"
    if len(digits) >= 7:
        # Phone numbers, account and reference numbers: keep the last two digits for context.
        return "[number •••" + digits[-2:] + "]"
    return raw


def mask(text: str) -> str:
    """Replace e-mails, phone, card, account and identity numbers with placeholders."""
    text = _URL_CREDS.sub(r"\1[credentials]@", text)
    text = _EMAIL.sub("[email]", text)
    text = _IBAN.sub(lambda m: "[account number]" if sum(c.isdigit() for c in m.group(0)) >= 8 else m.group(0), text)
    text = _SSN.sub("[id number]", text)
    return _DIGIT_RUN.sub(_digits, text)

"""Scrubbing personal data out of an answer before it is reused for other customers.

`gigcx.pii.mask` hides a customer's data from the expert of the *same* conversation, on every
message, so it is a cheap set of regular expressions. A reused answer leaves the conversation
for good, so it gets a slower and more thorough pass, once, when the case is confirmed resolved:

1. Structured data wherever it is: e-mail addresses, credentials in URLs, IBANs (checksummed by
   `python-stdnum`), card numbers (Luhn), phone numbers in national and international formats of
   many countries (`phonenumbers`), national identity and tax numbers (`python-stdnum`), street
   addresses, and any other run of 6 or more digits (account, order and reference numbers).
2. Everything the asker gave in that conversation: names from introductions ("I'm Maria Lopez",
   "me llamo…", "ich bin…"), sign-offs ("Thanks, Maria") and e-mail addresses (maria.lopez@…),
   capitalised words that are not common words nor the brand's own vocabulary, and every token
   with digits in it (order numbers, postcodes, amounts, the last digits of a card). Each of
   them is removed from the answer wherever it appears, in any letter case.
3. Names in the answer's salutations and sign-offs ("Hi Maria," → "Hi,", "Cheers, John").

The result errs on the side of removing too much: an answer is worth reusing for its steps, not
its specifics. Brands that want to review each answer set `answer_reuse` to `curated`.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher
from stdnum import iban as _iban
from stdnum import luhn as _luhn

# Phone numbers in the national format of these regions (international "+…" numbers are found
# whatever the region): the brands GigCX serves today, and the formats the tests cover.
PHONE_REGIONS = ("US", "GB", "FR", "DE", "ES", "IT", "IN", "NL", "BE", "PT", "IE", "BR", "MX", "AU")

_URL_CREDS = re.compile(r"(\w+://)[^/\s:@]+:[^/\s@]+@")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_IBAN_CANDIDATE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){10,32}\b", re.IGNORECASE)
_DIGITS = re.compile(r"(?<![\w])\+?\d(?:[\d \-./()]{4,40}\d)(?![\w])")
_DATE = re.compile(r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})$")
_ID_CANDIDATE = re.compile(r"\b[A-Z0-9]{8,18}\b", re.IGNORECASE)
_STREET = re.compile(
    r"\b\d{1,5}[a-zA-Z]?,?\s+(?:(?i:rue|calle|avenida|avenue|via|chemin|boulevard|plaza|paseo)\s+)?"
    r"(?:(?:de|del|la|le|des|du|di)\s+)?(?:[A-ZÀ-Ý][\w'’.-]*\s+){1,4}"
    r"(?i:street|st|road|rd|avenue|ave|lane|ln|boulevard|blvd|drive|dr|way|court|ct|place|pl|square|sq|"
    r"close|crescent|terrace|gardens|straße|strasse|str|weg|allee|platz|gasse)\b\.?"
    r"|\b(?i:rue|calle|avenida|via|chemin|paseo|plaza)\s+(?:(?:de|del|la|le|des|du|di)\s+)?"
    r"(?:[A-ZÀ-Ý][\w'’-]*\s*){1,4},?\s*\d{1,5}\b"
    r"|\b[A-ZÀ-Ý][\w'’-]*(?:straße|strasse|weg|allee|platz|gasse)\s+\d{1,5}[a-z]?\b"
    r"|\b\d{1,5}[a-zA-Z]?,?\s+(?i:rue|calle|carrer|avenida|via|chemin|paseo|plaza)\s+"
    r"(?:(?:de|del|la|le|des|du|di)\s+)?(?:[A-ZÀ-Ý][\w'’-]*\s*){1,4}")
# a UK National Insurance number (python-stdnum has no validator for it)
_NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b")

# A name: one to four capitalised words (the lead-in words around it are matched in any case).
_NAME = r"[A-ZÀ-Ý][a-zà-ÿ'’-]+(?:[ -][A-ZÀ-Ý][a-zà-ÿ'’-]+){0,3}"
_INTRO = re.compile(
    r"(?i:\bmy name is|\bmy name's|\bname:|\bi am|\bi'm|\bi’m|\bthis is|\bcall me|\bje m'appelle|"
    r"\bje m’appelle|\bje suis|\bmoi c'est|\bme llamo|\bmi nombre es|\bsoy|\bich bin|\bich heiße|"
    r"\bich heisse|\bmein name ist|\bmi chiamo|\bsono|\bsigned|\bit's|\bit is)\s+(" + _NAME + r")")
# after these, a name is likely even written in lower case ("my name is maria lopez")
_INTRO_STRONG = re.compile(
    r"(?i:\bmy name is|\bmy name's|\bname:|\bcall me|\bje m'appelle|\bje m’appelle|\bme llamo|"
    r"\bmi nombre es|\bich heiße|\bich heisse|\bmein name ist|\bmi chiamo)\s+"
    r"((?i:[a-zà-ÿ'’-]{2,})(?:\s+(?i:[a-zà-ÿ'’-]{2,}))?)")
_HONORIFIC = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Mme|Mlle|Sr|Sra|Srta|Herr|Frau|Sig|Sig\.ra)\.?\s+(" + _NAME + r")")
_HERE = re.compile(r"(?:^|[.!?\n]\s*)(" + _NAME + r")\s+here\b")
_SIGN_OFF = re.compile(
    r"(?i:\bthanks|\bthank you|\bthx|\bregards|\bbest|\bcheers|\bsincerely|\byours|\bmerci|\bcordialement|"
    r"\bgracias|\bsaludos|\bdanke|\bgrüße|\bgruß|\bgrazie|\bsalut)[,!.]?\s*\n?\s*(" + _NAME + r")\s*[.!]?\s*$")
_LONE_LAST_LINE = re.compile(r"(?:^|\n)\s*[-—–]*\s*(" + _NAME + r")\s*$")
_SALUTATION = re.compile(
    r"\b(?i:(hi|hello|hey|dear|good morning|good afternoon|good evening|thanks|thank you|cheers|bonjour|salut|"
    r"hola|buenos días|buenas tardes|hallo|guten tag|liebe|lieber|ciao|buongiorno|olá|oi))([ ,]+)"
    r"(" + _NAME + r")(?=\s*[,!.:;\n-]|\s*$)")
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)
_TOKEN_WITH_DIGIT = re.compile(r"[#\w/.-]*\d[#\w/.-]*")

# Words that start a sentence or are common enough never to identify anyone, besides the English
# stop words (sklearn's list, imported lazily: it is big).
_COMMON = {
    "hi", "hello", "hey", "dear", "thanks", "thank", "please", "yes", "no", "ok", "okay", "i", "im",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february",
    "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
    "app", "card", "account", "bank", "support", "help", "team", "customer", "expert", "order", "today",
    "tomorrow", "yesterday", "bonjour", "merci", "hola", "gracias", "hallo", "danke", "ciao", "grazie",
    "euro", "euros", "dollar", "dollars", "pound", "pounds", "iban", "pin", "visa", "mastercard", "amex",
}
_STD_IDS = ("es.dni", "es.nie", "in_.pan", "in_.aadhaar", "it.codicefiscale", "fr.nir",
            "us.ssn", "nl.bsn", "de.idnr", "pt.nif", "be.nn", "br.cpf", "mx.curp", "ie.pps")
_id_modules: list[object] = []


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return ENGLISH_STOP_WORDS


def _id_validators() -> list[object]:
    if not _id_modules:
        import importlib

        for name in _STD_IDS:
            try:
                _id_modules.append(importlib.import_module(f"stdnum.{name}"))
            except ImportError:  # pragma: no cover - an older python-stdnum without this country
                continue
    return _id_modules


def _iban_ok(candidate: str) -> bool:
    """The IBAN checksum (mod 97) holds; the country's own account-number check is not needed."""
    try:
        _iban.validate(candidate, check_country=False)
    except Exception:  # noqa: BLE001 - python-stdnum raises its ValidationError subclasses
        return False
    return True


def _ibans(text: str) -> str:
    """Replace every valid IBAN (any spacing); a candidate may run into the next word, so the
    longest valid prefix of each is taken and scanning resumes after it."""
    out, pos = [], 0
    while True:
        m = _IBAN_CANDIDATE.search(text, pos)
        if m is None:
            break
        raw = m.group(0)
        for end in range(len(raw), 14, -1):
            if raw[end - 1].isalnum() and _iban_ok(raw[:end]):
                out.append(text[pos:m.start()] + "[account number]")
                pos = m.start() + end
                break
        else:
            out.append(text[pos:m.start() + 1])
            pos = m.start() + 1
    out.append(text[pos:])
    return "".join(out)


# where a phone number may be: a run of digits and separators with 6+ digits (the matcher then
# reads only these windows, not the whole text: it costs ~1 ms per region and 1,000 characters)
_PHONE_CANDIDATE = re.compile(r"(?:\+|\(|\b)\d[\d \-./()]{4,24}\d\b")


MAX_PHONE_CANDIDATES = 12  # more numbers than this in one text: the rest are masked as [number]


def _phones(text: str) -> str:
    spans: list[tuple[int, int]] = []
    seen: dict[str, list[tuple[int, int]]] = {}
    candidates = [c for c in _PHONE_CANDIDATE.finditer(text) if sum(ch.isdigit() for ch in c.group(0)) >= 6]
    for cand in candidates[:MAX_PHONE_CANDIDATES]:
        offset = max(cand.start() - 1, 0)
        window = text[offset:cand.end() + 1]
        if window not in seen:
            found: list[tuple[int, int]] = []
            # an international number reads the same in every region: one is enough
            for region in PHONE_REGIONS[:1] if "+" in window else PHONE_REGIONS:
                found.extend((m.start, m.end) for m in PhoneNumberMatcher(window, region, leniency=Leniency.VALID))
                if any(e - b >= len(cand.group(0)) for b, e in found):
                    break
            seen[window] = found
        spans.extend((offset + b, offset + e) for b, e in seen[window])
    if not spans:
        return text
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:  # found under another region too
            continue
        out.append(text[last:start])
        out.append("[phone]")
        last = end
    out.append(text[last:])
    return "".join(out)


def _is_date(raw: str) -> bool:
    """A calendar date (kept: "on 12/03/2024" identifies nobody); "20-00-00" is a sort code."""
    if not _DATE.match(raw):
        return False
    parts = [int(p) for p in re.split(r"[-/.]", raw)]
    if parts[0] > 31:  # year first
        parts = parts[::-1]
    day, month = parts[0], parts[1]
    return 1 <= month <= 12 and 1 <= day <= 31 or 1 <= day <= 12 and 1 <= month <= 31


def _numbers(m: re.Match[str]) -> str:
    raw = m.group(0)
    if _is_date(raw):
        return raw
    digits = re.sub(r"\D", "", raw)
    if 12 <= len(digits) <= 19 and _luhn.is_valid(digits):
        return "[card number]"
    if len(digits) >= 6:
        return "[number]"
    return raw


def _ids(m: re.Match[str]) -> str:
    raw = m.group(0)
    # only-digit numbers are masked anyway by the 6+ digit rule; ids with letters need checking
    if not any(c.isdigit() for c in raw) or not any(c.isalpha() for c in raw):
        return raw
    for module in _id_validators():
        try:
            if module.is_valid(raw):  # type: ignore[attr-defined]
                return "[id number]"
        except Exception:  # noqa: BLE001, S112 - a validator's own bug must not break scrubbing
            continue
    return raw


def scrub_structured(text: str) -> str:
    """Replace e-mails, URL credentials, IBANs, cards, phones, identity numbers, addresses and
    long numbers with placeholders."""
    text = _URL_CREDS.sub(r"\1[credentials]@", text)
    text = _EMAIL.sub("[email]", text)
    text = _ibans(text)
    # cards before phones: a 16-digit card can look like a long phone number
    text = _DIGITS.sub(lambda m: "[card number]" if _card(m.group(0)) else m.group(0), text)
    text = _phones(text)
    text = _NINO.sub("[id number]", text)
    text = _ID_CANDIDATE.sub(_ids, text)
    text = _STREET.sub("[address]", text)
    text = _UK_POSTCODE.sub("[postcode]", text)
    return _DIGITS.sub(_numbers, text)


def _card(raw: str) -> bool:
    digits = re.sub(r"\D", "", raw)
    return 12 <= len(digits) <= 19 and _luhn.is_valid(digits)


def asker_details(texts: Iterable[str], vocabulary: Iterable[str] = ()) -> set[str]:
    """Names and details the asker gave: each is a word or token to remove from a reused answer.

    `vocabulary` is text that is not personal (the brand's name and its topics' names,
    descriptions and examples): capitalised words found there are kept."""
    known = {w.lower() for v in vocabulary for w in _WORD.findall(v)}
    common = _stop_words() | _COMMON
    details: set[str] = set()
    for text in texts:
        for pattern in (_INTRO, _INTRO_STRONG, _HONORIFIC, _HERE, _SIGN_OFF, _LONE_LAST_LINE):
            for m in pattern.finditer(text):
                details.update(w for w in _WORD.findall(m.group(1)) if w.lower() not in common)
        for email in _EMAIL.findall(text):
            local = email.split("@", 1)[0]
            details.update(p for p in re.split(r"[._+\-\d]+", local) if len(p) >= 3)
        for token in _TOKEN_WITH_DIGIT.findall(text):
            token = token.strip("#./-")
            if sum(c.isalnum() for c in token) >= 3:
                details.add(token)
                details.update(g for g in re.findall(r"\d{3,}", token))
        for sentence in re.split(r"(?<=[.!?\n])\s*", text):
            words = _WORD.findall(sentence)
            for word in words[1:]:  # the first word of a sentence is capitalised anyway
                if (word[:1].isupper() and len(word) >= 2 and word.lower() not in common
                        and not word.startswith(("I'", "I’"))
                        and word.lower() not in known and not word.isupper()):
                    details.add(word)
    return {d for d in details if d}


def _drop_details(text: str, details: set[str]) -> str:
    """Remove every detail at once (one alternation per kind, longest first)."""
    common = _stop_words() | _COMMON
    words = sorted((d for d in details if not any(c.isdigit() for c in d)), key=len, reverse=True)
    numbers = sorted((d for d in details if any(c.isdigit() for c in d)), key=len, reverse=True)
    anycase = [w for w in words if w.lower() not in common]
    exact = [w for w in words if w.lower() in common]  # "Will", "May": only when capitalised
    for group, flags, label, tail in ((anycase, re.IGNORECASE, "[name]", r"(?:'s|’s)?"),
                                      (exact, 0, "[name]", r"(?:'s|’s)?"),
                                      (numbers, re.IGNORECASE, "[detail]", "")):
        if group:
            pattern = r"(?<![\w])(?:" + "|".join(re.escape(d) for d in group) + ")" + tail + r"(?![\w])"
            text = re.sub(pattern, label, text, flags=flags)
    return text


def _salutations(text: str) -> str:
    common = _stop_words() | _COMMON

    def drop(m: re.Match[str]) -> str:
        name = m.group(3)
        if name.split()[0].lower() in common:  # "Hello there", "Thanks again"
            return m.group(0)
        return m.group(1)

    text = _SALUTATION.sub(drop, text)
    text = _HONORIFIC.sub("[name]", text)
    for pattern in (_INTRO, _SIGN_OFF, _LONE_LAST_LINE):
        text = pattern.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + "[name]"
                           if m.group(1).split()[0].lower() not in common else m.group(0), text)
    return text


def _tidy(text: str) -> str:
    text = re.sub(r"(\[name\])(?:[ ,]*\[name\])+", r"\1", text)
    text = re.sub(r"(?m)^[ \t]*\[name\][ \t]*[.!]?[ \t]*$\n?", "", text)  # a signature line left alone
    text = re.sub(r"[ \t]+([,.!?])", r"\1", text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return text.strip()


def reusable_answer(answer: str, asker_texts: Iterable[str], vocabulary: Iterable[str] = (), *,
                    details: set[str] | None = None) -> str:
    """The expert's answer with personal data taken out, fit to show to other customers.
    `details`: what `asker_details(asker_texts, vocabulary)` returned, when the caller scrubs
    several texts of one conversation (they are then not read again)."""
    if details is None:
        details = asker_details(list(asker_texts), vocabulary)
    text = scrub_structured(answer)
    text = _salutations(text)
    text = _drop_details(text, details)
    return _tidy(text)


def contains_phone(text: str) -> bool:
    """Whether a phone number of any supported region remains in `text` (a check for tests)."""
    return any(True for region in PHONE_REGIONS for _ in PhoneNumberMatcher(text, region, leniency=Leniency.VALID))


__all__ = ["PHONE_REGIONS", "asker_details", "contains_phone", "reusable_answer", "scrub_structured", "phonenumbers"]

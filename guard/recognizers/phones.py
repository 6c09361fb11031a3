"""Phone numbers of many countries: what a number looks like, and when a word says so.

Digit runs are everywhere in chat (order numbers, SKUs, amounts, dates), and nearly any
run of 7 to 15 digits is a valid number in *some* numbering plan, so validity alone
proves little. A candidate is therefore accepted on one of three kinds of evidence:

* **international form**: ``+`` or ``00`` and a country code, a possible number for that
  country according to ``phonenumbers`` (Google's libphonenumber metadata);
* **a shape only phones have**: NANP with separators (``(704) 678-8817``, ``704.678.8817``),
  the French pairs (``01 40 01 23 06``), a bracketed trunk-prefixed area code
  (``(04063) 69187``, ``(0114) 496 0934``);
* **a phone word nearby** ("phone", "mobile", "call me on", "tel.", "whatsapp", "my
  number is" ...; also in French, German, Spanish, Italian, Portuguese and Dutch; or
  after the number: "... is the office line", "(mobile)"): then any
  phone-shaped run of 7 to 15 digits, separated or bare ("phone 7046788817",
  "mobile 01 40 01 23 06", "call 03510345893"), with an extension if one follows.

Dates (``04/11/1982``) and dotted quads (IP addresses) are never phones.
"""

from __future__ import annotations

import re

import phonenumbers
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from guard.recognizers.checksums import digits_only

_CANDIDATE = re.compile(
    r"(?<![\w+.,/-])(?:\+|00)?\(?\d[\d \t().\-/]{4,24}\d\)?"
    r"(?:\s?(?:x|ext\.?|extension|#)\s?\d{1,6})?(?![\w-]|[.,]\d)",
    re.IGNORECASE,
)
_EXTENSION = re.compile(r"\s?(?:x|ext\.?|extension|#)\s?\d{1,6}$", re.IGNORECASE)
_NANP = re.compile(r"(?:(?:\+?1|001)[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}")
_FRENCH_PAIRS = re.compile(r"0\d(?:[ .-]\d\d){4}")
_BRACKETED_AREA = re.compile(r"\(0\d{1,5}\)[ .-]?\d{2,}(?:[ .-]\d{2,})*")
_DATE = re.compile(r"(?:\d{1,2}|\d{4})[/.-]\d{1,2}[/.-](?:\d{1,2}|\d{4})")  # not "612-31-00"
_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_CONTEXT = re.compile(
    r"(?:\b(?:phone|phones|telephone|tel|tél|telefon|telefono|teléfono|telefone|mobile|mobil|mob|"
    r"cell|cellphone|cel|celular|handy|portable|ph|fax|sms|text|texts|txt|whatsapp|signal|viber|call|"
    r"called|calling|ring|dial|reach|reached|contact|hotline|helpline|"
    # the same words in other scripts and languages: Russian/Ukrainian/Bulgarian, Greek,
    # Hebrew, Arabic, Persian, Turkish/Azerbaijani, Vietnamese, Japanese, Chinese, Korean
    r"тел|телефон|моб|мобильный|мобільний|τηλ|τηλέφωνο|κινητό|טל|טלפון|נייד|هاتف|جوال|تلفن|"
    r"cep|điện\s+thoại|sđt|電話|携帯|手机|電話番号|전화|휴대폰|"
    r"(?:my|his|her|your|their|our|contact|direct|best|new|home|work|office)\s+(?:phone\s+|mobile\s+)?"
    r"(?:number|no|num|nr|#))\b\.?|"
    # "the number is ...", "number - ..." at the start (not "the order number is")
    r"(?:\bthe\s+|^\s*)number\s*(?:is\b|[:=-])|"
    r"[\u260e\u260f\U0001f4de\U0001f4f1\U0001f4f2])\D{0,24}$",  # the phone emoji: ☎ ☏ 📞 📱 📲
    re.IGNORECASE,
)
# The phone word after the number: "058 7789328 is the office line", "0614 61 00 33
# (mobile)", "... is my number". Not a bare "number" or "line": "1234567 is the order
# number", "see line 1234567".
_CONTEXT_AFTER = re.compile(
    r"[^\n\d]{0,20}?\b(?:(?:phone|telephone|tel|mobile|mobil|cell|cellphone|landline|fax|whatsapp)\b|"
    r"(?:office|direct|land|phone|main|support|hot|help|home|work)\s?line\b|"
    r"(?:my|his|her|their|our|your)\s+(?:\w+\s+)?(?:number|no)\b)",
    re.IGNORECASE,
)
# One-letter labels of a signature or a card ("m: 07 731 5495", "T: ...", "| c: ..."): only
# right before the number, and with a colon unless the label starts the line.
_LETTER_LABEL = re.compile(
    r"(?:(?:^|[\s|(,;/])[mtpcwhod]\s?:|(?:^|\n)[ \t]*[mtpc]\.?[ \t])\s*$", re.IGNORECASE
)  # "m: 07 731 5495" anywhere, "m 0425-742 9478" at the start of a line
_CONTEXT_WINDOW = 40
MIN_DIGITS, MAX_DIGITS = 7, 15


class PhoneRecognizer(EntityRecognizer):
    def __init__(self) -> None:
        super().__init__(supported_entities=["PHONE_NUMBER"], name="skein_phone")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for match in _CANDIDATE.finditer(text):
            start = match.start()
            value = match.group().rstrip()
            if value.endswith(")") and "(" not in value:
                value = value[:-1]
            score = self._score(text, start, value)
            if score:
                results.append(RecognizerResult("PHONE_NUMBER", start, start + len(value), score))
        return results

    def _score(self, text: str, start: int, value: str) -> float:
        number = _EXTENSION.sub("", value)
        digits = digits_only(number)
        if not MIN_DIGITS <= len(digits) <= MAX_DIGITS or len(set(digits)) == 1:
            return 0.0
        if _DATE.fullmatch(number) or _DOTTED_QUAD.fullmatch(number):
            return 0.0
        if number.startswith(("+", "00")) and _international(number):
            return 0.8
        if _NANP.fullmatch(number) or _FRENCH_PAIRS.fullmatch(number) or _BRACKETED_AREA.fullmatch(number):
            return 0.75
        if _CONTEXT.search(text, max(0, start - _CONTEXT_WINDOW), start):
            return 0.65
        if _CONTEXT_AFTER.match(text, start + len(value), start + len(value) + _CONTEXT_WINDOW):
            return 0.6
        if _LETTER_LABEL.search(text, max(0, start - 6), start):
            return 0.65
        return 0.0


def _international(number: str) -> bool:
    candidate = "+" + number[2:] if number.startswith("00") else number
    try:
        parsed = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(parsed))

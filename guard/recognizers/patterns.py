"""Regex recognizers with validators: email, card, SSN, IBAN, IP (phones: ``phones.py``).

They are Presidio ``EntityRecognizer`` subclasses so the analyzer runs them like any
other, but each does its own matching instead of ``PatternRecognizer``: we need context
windows (a bare 9-digit run is an SSN only after "SSN"), vetoes ("version 1.2.3.4") and
stdlib ``re`` without per-match explanation objects, which cost more than the match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from guard.recognizers.checksums import card_brand_ok, digits_only, iban_ok, ip_ok, luhn_ok, ssn_ok
from guard.recognizers.phones import PhoneRecognizer

Check = Callable[[str], bool]
Veto = Callable[[str, int], bool]


@dataclass(frozen=True, slots=True)
class Rule:
    regex: re.Pattern[str]
    score: float
    check: Check | None = None
    context: re.Pattern[str] | None = None  # must match the text just before the hit ...
    after: re.Pattern[str] | None = None  # ... or this, the text just after it
    veto: Veto | None = None
    window: int = 40  # characters before the hit searched for ``context``


def _words(*words: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b[^\n]{0,24}$", re.IGNORECASE)


def _preceded_by(pattern: str) -> Veto:
    regex = re.compile(pattern + r"\s*$", re.IGNORECASE)
    return lambda text, start: regex.search(text, max(0, start - 24), start) is not None


class RegexRecognizer(EntityRecognizer):
    """Runs a list of :class:`Rule` for one entity type."""

    CONTEXT_WINDOW = 40

    def __init__(self, entity: str, rules: Sequence[Rule]) -> None:
        self._rules = tuple(rules)
        super().__init__(supported_entities=[entity], name=f"skein_{entity.lower()}")

    def load(self) -> None:  # nothing to load: patterns are compiled at import
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        entity = self.supported_entities[0]
        results: list[RecognizerResult] = []
        for rule in self._rules:
            for match in rule.regex.finditer(text):
                start, end = match.span()
                if self._accept(rule, text, match.group(), start, end):
                    results.append(RecognizerResult(entity, start, end, rule.score))
        return results

    def _accept(self, rule: Rule, text: str, value: str, start: int, end: int) -> bool:
        if rule.check is not None and not rule.check(value):
            return False
        if rule.veto is not None and rule.veto(text, start):
            return False
        if rule.context is not None:
            if rule.context.search(text, max(0, start - rule.window), start) is not None:
                return True
            after = rule.after
            return after is not None and after.match(text, end, end + self.CONTEXT_WINDOW) is not None
        return True


def email_recognizer() -> RegexRecognizer:
    # Our own pattern instead of Presidio's: its validator calls tldextract, which fetches
    # the public suffix list over the network on first use.
    regex = re.compile(r"(?<![\w.%+'-])[\w.%+'-]+@(?:[\w-]+\.)+[^\W\d_]{2,}(?![\w-])")
    return RegexRecognizer("EMAIL_ADDRESS", [Rule(regex, 1.0)])


def _card_ok(value: str) -> bool:
    number = digits_only(value)
    return 13 <= len(number) <= 19 and luhn_ok(number) and card_brand_ok(number)


def _luhn_ok(value: str) -> bool:
    number = digits_only(value)
    return 12 <= len(number) <= 19 and luhn_ok(number) and len(set(number)) > 1


_CARD_WORDS = _words("card", "cards", "credit", "debit", "visa", "mastercard", "amex", "maestro", "cc", "pan")


def card_recognizer() -> RegexRecognizer:
    regex = re.compile(
        r"(?<![\w-])(?:\d{4}([ -]?)\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -]?)\d{6}\2\d{4,5}|\d{13,19})(?![\w-])"
    )
    # A Luhn-valid number next to "card" is a card even from an issuer range we do not know.
    return RegexRecognizer(
        "CREDIT_CARD", [Rule(regex, 1.0, check=_card_ok), Rule(regex, 0.9, _luhn_ok, _CARD_WORDS)]
    )


def _ssn_check(value: str) -> bool:
    return ssn_ok(digits_only(value))


_SSN_WORDS = (
    "ssn",
    "ssns",
    r"social\s+security",
    "social",
    r"soc\s+sec",
    r"ss\s{0,2}(?:number|no|num|nr)",  # "the SS number on file", "SS no."
    r"ss(?=\s?#)",  # "ss# 123456789"
    r"s\.s\.n",
    r"tax\s+id",
    "tin",
    "itin",
    "taxpayer",
    # The US tax and employment forms that carry one: "verify 123456789 against the W-2".
    r"w-?2",
    r"w-?4",
    r"i-?9",
    "1099",
)
# "... gave 525642146 as social security no.": the naming word may follow the number.
_SSN_AFTER = re.compile(r"[^\n\d]{0,16}\b(?:" + "|".join(_SSN_WORDS) + r")\b", re.IGNORECASE)


# Words that name an SSN and nothing else: anywhere earlier on the line they make a valid
# nine-digit number one ("my social security number, which hr asked for again, is
# 123456789"). "social" and "tin" alone are too common for that distance.
_SSN_NAMES = (
    "ssn",
    "ssns",
    r"social\s+security",
    r"soc\s+sec",
    r"ss\s{0,2}(?:number|no|num|nr)",
    r"s\.s\.n",
    "itin",
    r"taxpayer\s+id",
)
_SSN_LINE = re.compile(r"\b(?:" + "|".join(_SSN_NAMES) + r")\b[^\n]{0,100}$", re.IGNORECASE)
_SSN_LINE_WINDOW = 120
_SSN_RIGHT_BEFORE = re.compile(r"\b(?:" + "|".join(_SSN_NAMES) + r")\b[\s:#=.-]{0,4}$", re.IGNORECASE)


def ssn_recognizer() -> RegexRecognizer:
    context = _words(*_SSN_WORDS)
    return RegexRecognizer(
        "US_SSN",
        [
            # "123-45-6789", also with a space either side of each hyphen ("123 - 45 - 6789").
            Rule(re.compile(r"(?<![\w-])\d{3}( ?)-\1\d{2}\1-\1\d{4}(?![\w-])"), 0.85, check=_ssn_check),
            # 123.45.6789: three groups, so never an IPv4 address or a version number.
            Rule(re.compile(r"(?<![\w.-])\d{3}\.\d{2}\.\d{4}(?![\w-]|\.\d)"), 0.7, check=_ssn_check),
            # With the word only. "SSN-123456789" is glued to it; "12-123456789" is no SSN.
            Rule(
                re.compile(r"(?<![\w.])(?<!\d-)\d{3} \d{2} \d{4}(?![\w-]|\.\d)"),
                0.6,
                _ssn_check,
                context,
                _SSN_AFTER,
            ),
            Rule(re.compile(r"(?<![\w.])(?<!\d-)\d{9}(?![\w-]|\.\d)"), 0.7, _ssn_check, context, _SSN_AFTER),
            # The naming word further back on the same line, and separators written loosely:
            # "123 - 45 - 6789", "123.45 6789", "123 45-6789".
            Rule(
                re.compile(r"(?<![\w.])(?<!\d-)(?:\d{9}|\d{3} ?[-. ] ?\d{2} ?[-. ] ?\d{4})(?![\w-]|\.\d)"),
                0.65,
                _ssn_check,
                _SSN_LINE,
                window=_SSN_LINE_WINDOW,
            ),
            # Right after the word that names it, nine digits are the SSN even where they also
            # read as an international phone number ("SSN: 006341237": "00" + 63, Philippines).
            Rule(
                re.compile(r"(?<![\w.])(?:\d{9}|\d{3} \d{2} \d{4})(?![\w-]|\.\d)"),
                0.9,
                _ssn_check,
                _SSN_RIGHT_BEFORE,
                window=24,
            ),
            # Glued to the word ("SSN123456789"), or in a five and a four after it ("SSN:
            # 12345-6789"; a ZIP+4 code has that shape too, so only right after the word).
            Rule(re.compile(r"(?i)(?<=ssn)\d{9}(?![\w-]|\.\d)"), 0.7, check=_ssn_check),
            Rule(re.compile(r"(?<![\w.-])\d{5}-\d{4}(?![\w-]|\.\d)"), 0.6, _ssn_check, _SSN_RIGHT_BEFORE),
            # "ssn 123 456 789": nine digits in threes, only after the word ("product code
            # 123-456-789, not an SSN" is a product code)
            Rule(re.compile(r"(?<![\w.-])\d{3}([ -])\d{3}\1\d{3}(?![\w-]|\.\d)"), 0.6, _ssn_check, context),
        ],
    )


class IbanRecognizer(RegexRecognizer):
    """Grouped IBANs may swallow a following upper-case word; retry without trailing groups."""

    _REGEX = re.compile(
        r"(?<!\w)[A-Z]{2}\d{2}(?:(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?|[A-Z0-9]{11,30})(?!\w)",
        re.IGNORECASE,
    )

    def __init__(self) -> None:
        super().__init__("IBAN_CODE", [Rule(self._REGEX, 1.0)])

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for match in self._REGEX.finditer(text):
            value = match.group()
            while value and not iban_ok(value):
                value = value.rpartition(" ")[0]
            if value:
                results.append(RecognizerResult("IBAN_CODE", match.start(), match.start() + len(value), 1.0))
        return results


def _has_hex(value: str) -> bool:
    return any(ch not in ":." for ch in value) and ip_ok(value)


def ip_recognizer() -> RegexRecognizer:
    # The v4 look-behind skips the tail of an IPv4-mapped IPv6 address (::ffff:a.b.c.d).
    v4 = re.compile(r"(?<![\w.])(?<!ffff:)(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
    v6 = re.compile(
        r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?![\w:]|\.\d)"
    )
    version = _preceded_by(
        r"\b(?:version|ver\.?|v|release|build|firmware|rev)(?:\s*(?:number|no\.?|#))?\s*:?"
    )
    return RegexRecognizer(
        "IP_ADDRESS",
        [Rule(v4, 0.95, check=ip_ok, veto=version), Rule(v6, 0.95, check=_has_hex)],
    )


def pattern_recognizers() -> list[EntityRecognizer]:
    return [
        email_recognizer(),
        PhoneRecognizer(),
        card_recognizer(),
        ssn_recognizer(),
        IbanRecognizer(),
        ip_recognizer(),
    ]

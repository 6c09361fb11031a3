"""Words around a candidate that say "person" or "place", shared by the gazetteer and the
NER recognizers. Each function looks at a short window before (or after) the candidate."""

from __future__ import annotations

import re

TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "professor", "sir", "madam", "mx"})
# A label or phrase after which a capitalised word is a name: "Name:", "Dear", "I am".
LABEL = re.compile(
    r"(?:\bname\s*(?:is|:)|\bnamed|\bcalled|\bperson\s*:|\bemployee\s*:|\bpatient\s*:|"
    r"\bcustomer\s*:|\bclient\s*:|\battn\s*:|\bcontact\s*:|\bowner\s*:|\bassignee\s*:|\breporter\s*:|"
    r"\bfrom\s*:|\bcc\s*:|\bdear|\bsigned|\bi\s+am|\bi'm|\bname|\bit's|\bit\s+is|"
    # a role that names its holder next: "passenger Ana Ruiz", "beneficiary: ..."
    r"\bpassenger|\breporter|\bbeneficiary|\baccount\s+holder|\bapplicant|\bcandidate\s*:|"
    r"\bdriver|\bguest|\btenant|\brecipient|\battendees?\s*:|\bcardholder)\s*$",
    re.IGNORECASE,
)
# Words after which a lower-case unknown word is very likely a person: "ask aurelio to",
# "thanks eero!", "i talked to dagny". Only in chat style, hence lower-case only.
PERSON_CUE = re.compile(
    r"\b(?:ask|asked|ask for|asking for|tell|told|ping|pinged|email|emailed|call|cc|thanks|thank|hey|hi|"
    r"hello|dear|met|text|texted|shoutout to|kudos to|props to|thanks to|who is|"
    r"regards|cheers|sincerely|best wishes|warm wishes|"  # the name under a sign-off
    r"wife|husband|partner|colleague|coworker|boss|manager|son|daughter|mother|father|brother|sister|"
    r"meet|talked to|spoke to|spoke with|talk to|message|remind|invite|invited|"
    # verbs and nouns that take a person as object: "cover for mwangi", "1:1 with dagny"
    # (not "signed by", "introducing", "loop in", "chat with": tools and teams follow
    # those more often than people: "signed by docusign", "chat with chatgpt")
    r"cover for|covering for|covers for|filling in for|fill in for|on behalf of|"
    r"meeting with|meet with|call with|lunch with|dinner with|catch up with|"
    r"1:1 with|one-on-one with|reach out to|reached out to|say hi to|"
    r"welcome|congrats|congratulations|happy birthday|reference letter for|reference for|"
    r"onboarding for|checklist for|approved by|requested by|submitted by|reported by|"
    r"assign to|assigned to|hand over to|handed over to|forward to|forwarded to|"
    # chat shorthand: "pairing w/ aina", "per gbowoade, the invoice ..." (not "re:" or
    # "between": "re: ssn# ...", "the difference between tcp and udp")
    r"w/|per)\W{0,2}$",
    re.IGNORECASE,
)
_LOOSE_PLACE = re.compile(r"\b(?:in|to|from|at|near|via|visit|visiting|around|of|across)\s+$", re.IGNORECASE)
# "to" and "for" precede people as often as places ("a note to Artur"); these do not, and
# neither do the labels of a form ("City: Abrantes").
_STRICT_PLACE = re.compile(
    r"(?:\b(?:in|from|near|visit|visiting|around|across)\s+|"
    r"\b(?:city|town|village|country|address|location|place|region|state|province)\s*:\s*)$",
    re.IGNORECASE,
)
# "the Berlin office", "our Lyon branch", "lyon weather tomorrow?"
_PLACE_AFTER = re.compile(
    r"\s+(?:office|offices|branch|site|store|warehouse|plant|campus|hq|headquarters|airport|weather)\b",
    re.IGNORECASE,
)
# A verb or noun of living, moving or travelling before a preposition, or a form label:
# what follows is a place even in lower case or shouted text, where the capital that
# would say so is lost ("she was born in snedsted", "moving to lyon next month",
# "weather in thun", "address: vernier"). Tried after the loose and strict cues fail.
_STRONG_PLACE = re.compile(
    r"(?:\b(?:live|lives|living|lived|based|born|located|situated|raised|grew\s+up|stationed|"
    r"headquartered|settled|staying|stays|stay|resides|residing|reside|moving|moved|move|relocating|"
    r"relocated|relocate|emigrated|flight|flights|flying|fly|flew|travel|travelling|traveling|"
    r"travelled|traveled|trip|journey|drive|driving|drove|shipped|shipping|ship|parcel|delivery|"
    r"deliver|weather|forecast|office|offices|branch|supplier|hotel|hotels|venue|vacation|holiday|"
    r"visit|visiting|leaves|leaving|arrives|arriving|arrived|landed|landing|departs|departing)"
    r"\s+(?:in|to|from|at|near|for|out\s+of|into)\s+|"
    r"\b(?:city|town|village|address|location|hometown|birthplace|destination|origin)\s*:\s*|"
    r"\b(?:leaves|leaving|departs|departing)\s+)$",
    re.IGNORECASE,
)
STRONG_WINDOW = 40
# The words _STRONG_PLACE can end with: a cheap test that rules out most words first.
_STRONG_END = re.compile(
    r"(?:\b(?:in|to|from|at|near|for|of|into|leaves|leaving|departs|departing)\s+|:\s*)$", re.IGNORECASE
)
# After a sentence end, an opening quote or bracket, a line break or a list bullet.
SENTENCE_START = re.compile(r"(?:^|[.!?:;\"'(\n]\s*|(?:^|\n)\s*[-*\u2022]\s*)$")
WINDOW = 16


def place_before(text: str, start: int, *, strict: bool = False) -> bool:
    pattern = _STRICT_PLACE if strict else _LOOSE_PLACE
    return pattern.search(text, max(0, start - WINDOW), start) is not None


# "to", "into" and "for" also take destinations that are no places ("moving to prod",
# "shipping to staging"): enough for a known place; a word in no list needs a word of
# travel that software does not use ("flight to", "the parcel to", "relocating to").
_BARE_VERB = re.compile(r"\b(?:leaves|leaving|departs|departing)\s+$", re.IGNORECASE)
_DESTINATION = re.compile(r"\b(?:to|into|for)\s+$", re.IGNORECASE)
_TRAVEL_TO = re.compile(
    r"\b(?:flight|flights|flying|fly|flew|travel|travelling|traveling|travelled|traveled|trip|"
    r"journey|parcel|vacation|holiday|drive|driving|drove|relocating|relocated|relocate|"
    r"emigrated|hotel|hotels|venue|weather|forecast)\s+(?:to|into|for)\s+$",
    re.IGNORECASE,
)


def strong_place_before(text: str, start: int, *, unknown_word: bool = False) -> bool:
    """A verb of living, moving or travelling and its preposition, or a form label."""
    if _STRONG_END.search(text, max(0, start - 12), start) is None:
        return False
    if unknown_word and _BARE_VERB.search(text, max(0, start - 12), start) is not None:
        return False  # "the build leaves dist": a known place only ("leaves krk")
    if unknown_word and _DESTINATION.search(text, max(0, start - 8), start) is not None:
        return _TRAVEL_TO.search(text, max(0, start - 24), start) is not None
    return _STRONG_PLACE.search(text, max(0, start - STRONG_WINDOW), start) is not None


# A place name used as an adjective of a dish, a product, an institution or an idea:
# "Boston cream pie", "Brussels sprouts", "Dijon mustard", "the Geneva Convention", "a
# Monte Carlo method", "Zurich insurance". Not "the Boston office" (``_PLACE_AFTER``).
_ATTRIBUTIVE_AFTER = re.compile(
    r"\s+(?:cream|sprouts?|duck|steak|sausages?|mustard|salad|cheese|ham|pie|cake|buns?|rolls?|"
    r"pizza|chicken|beef|pasta|sauce|dressing|wine|beer|coffee|tea|style|convention|conventions|"
    r"protocol|accords?|agreement|treaty|syndrome|method|methods|simulation|school|business\s+school|"
    r"university|college|insurance|bank|stock\s+exchange|opera|philharmonic|symphony|marathon|"
    r"motors?|airlines|airways|brands|group|fc|zoo)\b",
    re.IGNORECASE,
)


def attributive_after(text: str, end: int) -> bool:
    return _ATTRIBUTIVE_AFTER.match(text, end) is not None


def place_after(text: str, end: int) -> bool:
    return _PLACE_AFTER.match(text, end) is not None


def place(text: str, start: int, end: int, *, strict: bool = False) -> bool:
    return place_before(text, start, strict=strict) or place_after(text, end)


def person_before(text: str, start: int) -> bool:
    return PERSON_CUE.search(text, max(0, start - WINDOW), start) is not None


def label_before(text: str, start: int) -> bool:
    return LABEL.search(text, max(0, start - 24), start) is not None


# A single name after one of these is the name of a thing: "the Asana project", "our Miro
# board". People take no article ("the Smiths" is a family, and has a plural).
_DETERMINER = re.compile(r"\b(?:the|a|an|our|your|their|this|that|these|those)\s+$", re.IGNORECASE)


def determiner_before(text: str, start: int) -> bool:
    return _DETERMINER.search(text, max(0, start - 8), start) is not None


# Verbs of saying after a name: "> Ana Ruiz wrote:", "martaka utama said the ...".
_SPEAKER_AFTER = re.compile(
    r",?\s+(?:wrote|writes|said|says|replied|replies|mentioned|asked|texted|emailed)\b"
)


# What people do and organisations do not, right after a name: "X will run the retro",
# "X left the company", "X is out sick", "X pls resend". Not "is", "has": "Klarna is down".
_PERSON_PREDICATE_AFTER = re.compile(
    r",?\s+(?:will\s+(?:run|lead|join|cover|send|take|be\s+(?:out|off|away|back|late))|left\s+the|"
    r"joined\s+the|is\s+(?:out|off|away|on\s+leave|sick|back|late)|pls|please\s+resend|"
    r"covers|here,|here\s+(?:from|again))\b",
    re.IGNORECASE,
)


def person_predicate_after(text: str, end: int) -> bool:
    return _PERSON_PREDICATE_AFTER.match(text, end) is not None


def speaker_after(text: str, end: int) -> bool:
    return _SPEAKER_AFTER.match(text, end) is not None


# A possessive and something only a person has: "why Duruk's payment failed", "karma's
# laptop". Company things ("account", "order") are left out: products have those too.
_OWNER_AFTER = re.compile(
    r"['\u2019]s\s+(?:payment|payments|salary|payslip|paycheck|laptop|badge|desk|birthday|wife|"
    r"husband|mother|father|mom|mum|dad|son|daughter|sister|brother|boss|manager|phone|cell|mobile|"
    r"home|address|ssn|passport|visa|appointment|leave|shift|timesheet|car|flight|contract|"
    r"reimbursement|expenses|expense|resignation|onboarding|offboarding|interview|diagnosis|"
    r"prescription|insurance)\b",
    re.IGNORECASE,
)


def owner_after(text: str, end: int) -> bool:
    return _OWNER_AFTER.match(text, end) is not None


_EMAIL_AFTER = re.compile(r"\s*[<(\[]?\s*[\w.%+'-]+@[\w-]+\.")


def email_after(text: str, end: int) -> bool:
    """An e-mail address follows: "Ana Ruiz <ana@x.org>", "add terézia mattia@x.com"."""
    return _EMAIL_AFTER.match(text, end) is not None


def sentence_start(text: str, start: int) -> bool:
    return SENTENCE_START.search(text, max(0, start - 3), start) is not None

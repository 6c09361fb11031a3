"""Generate tests/data/pii_check.jsonl: a second untuned check set (issue 15, round 2).

Scored by `skein guard eval` and never tuned on: its misses are not read, only its
figures (see docs/guard.md, "Evaluation"). Its sources differ from every other set and
from the guard's word lists: names from Faker locales no other set uses (Colombia,
Flemish Belgium, Latvia, Irish, Nigeria, Pakistan, Estonia, Liechtenstein) and mimesis
locales the held-out set does not use (Mexico, Estonia, Iceland, Flemish Belgium,
Azerbaijan); other templates (support chats, HR and sales notes, meeting minutes, SMS),
other styles (lower case, ALL CAPS, line breaks, doubled spaces, trailing "..."), and
clean messages written separately from pii_dev2's.

    .venv/bin/python tests/data/make_pii_check.py     # rewrites pii_check.jsonl
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from evalkit import Segment, assemble, luhn_complete, segments, write_jsonl  # the script's folder
from faker import Faker
from mimesis import Address, Locale, Person

SEED = 4242
OUT = Path(__file__).with_name("pii_check.jsonl")
FAKER_NAMES = ["es_CO", "nl_BE", "lv_LV", "ga_IE", "en_NG", "en_PK", "et_EE", "de_LI"]
FAKER_PLACES = ["es_CO", "nl_BE"]
FAKER_PHONES = ["es_CO", "nl_BE", "de_LI", "lv_LV"]
MIMESIS = [Locale.ES_MX, Locale.ET, Locale.IS, Locale.NL_BE, Locale.AZ]
IBAN_LOCALES = ["es_CO", "nl_BE", "de_LI"]

PII_TEMPLATES = [
    "agent: hi, who am i speaking with?\ncustomer: {PERSON}\n"
    "agent: thanks, and your phone?\ncustomer: {PHONE_NUMBER}",
    "minutes 12/03 - attendees: {PERSON}, {PERSON}, {PERSON}. decision: move the launch.",
    "sms from {PHONE_NUMBER}: running late, {PERSON}",
    "hr note: {PERSON} relocates to {LOCATION} in spring, update payroll",
    "The tax form shows SSN {US_SSN}. Is that enough for the background check?",
    "my social security number is {US_SSN}",
    "SOCIAL SECURITY NO {US_SSN}",
    "lead: {PERSON}, {LOCATION}, interested in the pro plan, email {EMAIL_ADDRESS}",
    "can you help {PERSON} reset her password? she is locked out",
    "Visitor badge for {PERSON} tomorrow at the {LOCATION} site",
    "refund to card {CREDIT_CARD} approved by {PERSON}",
    "the bank says IBAN {IBAN_CODE} is closed...",
    "who approved the login from {IP_ADDRESS}?",
    "{PERSON} called from {PHONE_NUMBER} about the broken heater",
    "driver {PERSON} is stuck near {LOCATION}",
    "please translate for {PERSON}: the meeting in {LOCATION} is cancelled",
    "i think {PERSON} and {PERSON} should pair on this",
    "customer {PERSON} ({EMAIL_ADDRESS}) wants to cancel",
    "NEW ADDRESS FOR {PERSON}: SOMEWHERE IN {LOCATION}",
    "best time to call {PERSON}? her number is {PHONE_NUMBER}",
    "Birthday card for {PERSON} is on my desk, sign it pls",
    "our courier lost two boxes between {LOCATION} and {LOCATION}",
    "Write a welcome message for {PERSON}, who joins the {LOCATION} team.",
    "cc {PERSON} on the thread please",
    "anyone know {PERSON}'s new email? old one {EMAIL_ADDRESS} bounces",
    "payment to {IBAN_CODE}, beneficiary {PERSON}",
    "{PERSON} from accounting needs the {LOCATION} receipts",
    "Tell {PERSON} the server at {IP_ADDRESS} is back up",
]
CLEAN_TEMPLATES = [
    "Can you summarise the {thing} in three bullet points?",
    "the {thing} for {month} is attached, numbers look fine",
    "When is the {event}? I think it's {weekday}.",
    "Please proofread: 'Our {thing} is now live for all customers.'",
    "MEETING MOVED TO {weekday}",
    "Does {tool} support single sign-on?",
    "Swap {tool} for {tool} in the deploy script",
    "the {event} got moved to {month}",
    "Write an upbeat post about the {event}.",
    "Who owns the {tool} account? The {role} doesn't know.",
    "price went from 19.99 to 24.99 in {month}",
    "{role} review due {weekday}",
    "ask the {role} about the {tool} budget",
    "Sunny weather for the {event}, bring sunglasses",
    "Max retries is 5, min backoff 200 ms.",
    "Dash and Bolt are the names of our two test robots.",
    "Sage, Xero and QuickBooks: which one for a small charity?",
    "Pat on the back to the whole {role} team!",
    "The Spring Boot upgrade to 3.3 needs Java 17.",
    "Autumn sale ends {weekday}, discount code FALL24",
    "king size or queen size for the guest room?",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
MONTHS = ["January", "March", "April", "May", "June", "August", "October", "December"]
THINGS = ["quarterly report", "Release Notes", "Security Review", "Customer Survey", "Board Memo", "roadmap"]
EVENTS = ["Town Hall", "offsite", "Hackathon", "Summer Party", "Black Friday launch", "Christmas lunch"]
TOOLS = ["Pipedrive", "Freshdesk", "Intercom", "Calendly", "DocuSign", "Loom", "Linear", "Postman",
         "CircleCI", "Bamboo", "Harvest", "Basecamp", "Monday.com", "ClickUp", "Webflow"]  # fmt: skip
ROLES = ["Finance", "Legal", "Support Lead", "Chief Architect", "COO", "Recruiter", "Controller", "Ops"]
CLEAN_SLOTS = {
    "thing": THINGS,
    "month": MONTHS,
    "event": EVENTS,
    "weekday": WEEKDAYS,
    "tool": TOOLS,
    "role": ROLES,
}


class Maker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.fakers = {loc: Faker(loc) for loc in sorted({*FAKER_NAMES, *FAKER_PLACES, *FAKER_PHONES})}
        for index, faker in enumerate(self.fakers.values()):
            faker.seed_instance(SEED + index)
        self.people = {loc: Person(loc, seed=SEED) for loc in MIMESIS}
        self.places = {loc: Address(loc, seed=SEED) for loc in MIMESIS}

    def __call__(self, slot: str) -> tuple[str, str]:
        return slot, getattr(self, slot.lower())()

    def person(self) -> str:
        if self.rng.random() < 0.5:
            f = self.fakers[self.rng.choice(FAKER_NAMES)]
            first, last = str(f.first_name()), str(f.last_name())
        else:
            p = self.people[self.rng.choice(MIMESIS)]
            first, last = str(p.first_name()), str(p.last_name())
        roll = self.rng.random()
        if roll < 0.5:
            return f"{first} {last}"
        if roll < 0.85:
            return first
        return f"{self.rng.choice(['Mr.', 'Mrs', 'Dr', 'Ms'])} {last}"

    def location(self) -> str:
        if self.rng.random() < 0.4:
            return str(self.fakers[self.rng.choice(FAKER_PLACES)].city())
        return str(self.places[self.rng.choice(MIMESIS)].city())

    def email_address(self) -> str:
        return str(self.fakers[self.rng.choice(FAKER_NAMES)].email())

    def phone_number(self) -> str:
        if self.rng.random() < 0.6:
            return str(self.fakers[self.rng.choice(FAKER_PHONES)].phone_number())
        return str(
            self.people[self.rng.choice([Locale.ES_MX, Locale.IS, Locale.NL_BE, Locale.AZ])].phone_number()
        )

    def us_ssn(self) -> str:
        # Only numbers the SSA could issue (area 100-665, group 01-99, serial 0001-9999).
        digits = f"{self.rng.randint(100, 665)}{self.rng.randint(1, 99):02d}{self.rng.randint(1, 9999):04d}"
        a, b, c = digits[:3], digits[3:5], digits[5:]
        return self.rng.choice([f"{a}-{b}-{c}", f"{a}-{b}-{c}", digits, f"{a} {b} {c}"])

    def credit_card(self) -> str:
        prefix, length = self.rng.choice([("4", 16), ("55", 16), ("34", 15), ("6011", 16)])
        number = luhn_complete(prefix, length, self.rng)
        return (
            "-".join(number[i : i + 4] for i in range(0, 16, 4))
            if length == 16 and self.rng.random() < 0.3
            else number
        )

    def iban_code(self) -> str:
        return str(self.fakers[self.rng.choice(IBAN_LOCALES)].iban())

    def ip_address(self) -> str:
        return str(self.fakers["es_CO"].ipv4_public())


def style_for(rng: random.Random):  # type: ignore[no-untyped-def]
    kind = rng.choices(["plain", "lower", "upper", "spaced", "trailing"], [0.4, 0.28, 0.12, 0.1, 0.1])[0]

    def style(value: str, entity: str | None, r: random.Random) -> str:
        if kind == "lower":
            return value.lower()
        if kind == "upper":
            return value.upper()
        if kind == "spaced" and entity is None:
            return value.replace(" ", r.choice(["  ", " ", "\n"]))
        if kind == "trailing" and entity is None:
            # only a segment that ends a sentence trails off ("is closed..."); the first
            # version also put "..." before the value that followed a segment
            return re.sub(r"[.!?]$", "...", value) if r.random() < 0.5 else value
        return value

    return style


def main() -> None:
    rng = random.Random(SEED)
    maker = Maker(rng)
    rows = []
    for _ in range(300):
        parts: list[Segment] = segments(rng.choice(PII_TEMPLATES), maker)
        rows.append(assemble(parts, style_for(rng), rng))
    for _ in range(150):
        template = rng.choice(CLEAN_TEMPLATES)
        text = re.sub(r"\{([a-z]+)\}", lambda m: rng.choice(CLEAN_SLOTS[m.group(1)]), template)
        rows.append(assemble([(text, None)], style_for(rng), rng))
    rng.shuffle(rows)
    write_jsonl(OUT, rows)


if __name__ == "__main__":
    main()

"""Generate tests/data/pii_holdout.jsonl: a held-out set, reported and never tuned on.

Everything here differs from the development set (make_pii_dev.py) and from the guard's
word lists: names, places and phone numbers come from mimesis (its own per-locale data,
not Faker, not names-dataset, not GeoNames), the templates are other chat situations,
and the writing styles differ (Title Case, shouting sentences, no punctuation, e-mail
style quoting, stray emoji). Its figures are reported beside the development set's in
`skein guard eval`; a rule is never changed because of a miss seen only here (see
docs/guard.md, "Evaluation").

    .venv/bin/python tests/data/make_pii_holdout.py     # rewrites pii_holdout.jsonl
"""

from __future__ import annotations

import random
from pathlib import Path

from evalkit import Segment, assemble, luhn_complete, segments, write_jsonl  # the script's folder
from mimesis import Address, Finance, Internet, Locale, Person, Text

SEED = 1871
OUT = Path(__file__).with_name("pii_holdout.jsonl")
LOCALES = [
    Locale.EN, Locale.EN_GB, Locale.EN_AU, Locale.EN_CA, Locale.DE, Locale.DE_AT, Locale.DE_CH,
    Locale.FR, Locale.ES, Locale.IT, Locale.PT, Locale.PT_BR, Locale.NL, Locale.PL, Locale.SV,
    Locale.DA, Locale.FI, Locale.CS, Locale.HU, Locale.TR, Locale.NO, Locale.SK, Locale.HR,
]  # fmt: skip
IBAN_COUNTRIES = {"DE": 18, "FR": 23, "ES": 20, "IT": 23, "NL": 14, "BE": 12, "AT": 16, "CH": 17}

TEMPLATES = [
    "Quick Favour: Can You Book A Table For {PERSON} Tonight?",
    "IS {PERSON} STILL ON THE CALL",
    "need the signed lease from {PERSON} before we ship anything to {LOCATION}",
    "> On Tuesday {PERSON} wrote:\n> please use {EMAIL_ADDRESS} from now on\nnoted, thanks",
    "Tel: {PHONE_NUMBER} (ask for {PERSON})",
    "whatsapp me on {PHONE_NUMBER} 🙏",
    "best number to reach {PERSON} is {PHONE_NUMBER}",
    "Call back requested: {PHONE_NUMBER}",
    "Fill the visa form: full name {PERSON}, place of birth {LOCATION}, SSN {US_SSN}",
    "my social is {US_SSN} can u check the W-2",
    "SSN: {US_SSN} DOB 1990-03-14",
    "direct debit from {IBAN_CODE} failed, please retry",
    "New payee {PERSON} IBAN {IBAN_CODE}",
    "The Card On File Is {CREDIT_CARD}",
    "paid with {CREDIT_CARD} but no confirmation email came",
    "suspicious login for {EMAIL_ADDRESS} from {IP_ADDRESS} 😬",
    "allowlist {IP_ADDRESS} please, it's the {LOCATION} VPN",
    "{PERSON} moved to {LOCATION} so the handover is with {PERSON} now",
    "Plan A 3-Day Trip To {LOCATION} For Me And {PERSON}",
    "anyone know a good dentist near {LOCATION}",
    "WE LOST THE {LOCATION} ACCOUNT, {PERSON} IS FURIOUS",
    "Note for {PERSON}: the shipment to {LOCATION} left today, tracking via {EMAIL_ADDRESS}",
    "cc {PERSON} on the thread pls",
    "ok so {PERSON} said {PERSON} would handle it",
    "Rewrite the bio of {PERSON}, who grew up in {LOCATION} and now lives in {LOCATION}.",
    "Reservation under {PERSON}, contact {PHONE_NUMBER}, arriving from {LOCATION}",
    "Invite {EMAIL_ADDRESS} and {EMAIL_ADDRESS} to the review",
    "the guy from {LOCATION} ({PERSON}) never paid invoice 77812",
    "Kindly reset the password for {PERSON}; their phone is {PHONE_NUMBER}.",
    "Tax ID {US_SSN} belongs to {PERSON}, not to her brother",
]
CLEAN = [
    "Quick Question About The Release Notes For Version 4.2",
    "ANYONE ELSE SEEING 502S ON THE STAGING API",
    "make the table sortable by date and amount pls",
    "What Is The Capital Gains Tax Rate For Short-Term Holdings?",
    "reply all: lunch is at noon, pizza again 🍕",
    "the migration touched 1,204,332 rows in 38 minutes",
    "Can The Marketing Team Get Access To The Analytics Workspace?",
    "order 55-2231-09 arrived damaged, requesting a replacement",
    "we should switch the cron to 0 */6 * * * instead",
    "Summarize this thread in two sentences for the exec update.",
    "Port 5432 is closed on the bastion host, open it for the DBA group.",
    "Chapter 7 covers hash tables, chapter 8 covers graphs.",
    "the printer on floor 3 is jammed AGAIN",
    "What's the difference between a Roth IRA and a traditional IRA?",
    "> thanks!\nno worries, happy to help",
]


class Maker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        seed = rng.randint(0, 10**6)
        self.people = {loc: Person(loc, seed=seed) for loc in LOCALES}
        self.places = {loc: Address(loc, seed=seed) for loc in LOCALES}
        self.english_place = Address(Locale.EN, seed=seed)
        self.internet = Internet(seed=seed)
        self.finance = Finance(Locale.EN, seed=seed)
        self.text = Text(Locale.EN, seed=seed)

    def __call__(self, slot: str) -> tuple[str, str]:
        return slot, getattr(self, slot.lower())()

    def locale(self) -> Locale:
        return self.rng.choice(LOCALES)

    def person(self) -> str:
        person = self.people[self.locale()]
        roll = self.rng.random()
        if roll < 0.5:
            return f"{person.first_name()} {person.last_name()}"
        if roll < 0.8:
            return str(person.first_name())
        return f"{self.rng.choice(['Mr', 'Ms', 'Dr', 'Mrs', 'Prof.'])} {person.last_name()}"

    def location(self) -> str:
        roll = self.rng.random()
        if roll < 0.6:
            return str(self.places[self.locale()].city())
        if roll < 0.8:
            return str(self.english_place.country())
        return str(self.english_place.state())

    def email_address(self) -> str:
        return str(self.people[self.locale()].email())

    def phone_number(self) -> str:
        return str(self.people[self.locale()].phone_number())

    def us_ssn(self) -> str:
        area = self.rng.choice([n for n in range(1, 900) if n != 666])
        a, b, c = f"{area:03d}", f"{self.rng.randint(1, 99):02d}", f"{self.rng.randint(1, 9999):04d}"
        return self.rng.choice([f"{a}-{b}-{c}", f"{a}-{b}-{c}", f"{a} {b} {c}", f"{a}{b}{c}"])

    def credit_card(self) -> str:
        prefix = self.rng.choice(["4", "51", "53", "55", "2223", "6011", "34", "37"])
        length = 15 if prefix in ("34", "37") else 16
        number = luhn_complete(prefix, length, self.rng)
        if length == 16 and self.rng.random() < 0.5:
            return " ".join(number[i : i + 4] for i in range(0, 16, 4))
        return number

    def iban_code(self) -> str:
        country = self.rng.choice(sorted(IBAN_COUNTRIES))
        bban = "".join(self.rng.choice("0123456789") for _ in range(IBAN_COUNTRIES[country]))
        numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
        value = f"{country}{98 - int(numeric) % 97:02d}{bban}"
        grouped = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        return grouped if self.rng.random() < 0.5 else value

    def ip_address(self) -> str:
        return str(self.internet.ip_v4() if self.rng.random() < 0.6 else self.internet.ip_v6())


def style_for(rng: random.Random):  # type: ignore[no-untyped-def]
    kind = rng.choices(["as_is", "lower", "shout", "bare", "title"], [0.45, 0.25, 0.1, 0.1, 0.1])[0]

    def style(value: str, entity: str | None, r: random.Random) -> str:
        if kind == "lower":
            return value.lower()
        if kind == "shout":
            return value.upper()
        if kind == "bare" and entity is None:
            return "".join(ch for ch in value if ch not in ".,;:!?")
        if kind == "title" and entity is None:
            return value.title()
        return value

    return style


def main() -> None:
    rng = random.Random(SEED)
    maker = Maker(rng)
    rows = []
    for _ in range(420):
        parts: list[Segment] = segments(rng.choice(TEMPLATES), maker)
        rows.append(assemble(parts, style_for(rng), rng))
    for _ in range(100):
        rows.append(assemble(segments(rng.choice(CLEAN), maker), style_for(rng), rng))
    rng.shuffle(rows)
    write_jsonl(OUT, rows)


if __name__ == "__main__":
    main()

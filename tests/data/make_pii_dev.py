"""Generate tests/data/pii_dev.jsonl: the development set the guard's rules are tuned on.

Independent of the guard's own word lists: names, places and phone numbers come from
Faker's locale providers (not names-dataset or GeoNames, which feed the gazetteer), in
20 locales, and are written in several styles (plain, lower case, ALL CAPS, Title Case,
messy spacing and line breaks, zero-width and BOM characters, full-width digits). Title
Case was added after the first held-out run showed clean messages in that style flagged
(docs/guard.md, "Evaluation", says so). Clean
messages carry capitalised product names, numbers and dates that must stay untouched.
Deterministic (fixed seed; Faker pinned by the lock of the dev environment):

    .venv/bin/python tests/data/make_pii_dev.py     # rewrites pii_dev.jsonl

The held-out set (make_pii_holdout.py) uses other sources and other templates and is
never used to tune; see docs/guard.md, "Evaluation".
"""

from __future__ import annotations

import random
from pathlib import Path

from evalkit import Segment, assemble, luhn_complete, segments, write_jsonl  # the script's folder
from faker import Faker

SEED = 20261202
OUT = Path(__file__).with_name("pii_dev.jsonl")
NAME_LOCALES = [
    "en_US", "en_GB", "en_IN", "en_AU", "en_IE", "de_DE", "de_AT", "fr_FR", "es_ES", "es_MX",
    "it_IT", "pt_BR", "pt_PT", "nl_NL", "pl_PL", "sv_SE", "da_DK", "fi_FI", "cs_CZ", "ro_RO",
]  # fmt: skip
CITY_LOCALES = ["de_DE", "it_IT", "es_ES", "pl_PL", "pt_PT", "en_IN", "sv_SE", "da_DK", "cs_CZ", "ro_RO"]
PHONE_LOCALES = ["en_US", "en_GB", "en_IN", "fr_FR", "de_DE", "es_ES", "it_IT", "nl_NL", "pt_BR", "en_AU"]
IBAN_LOCALES = ["de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_GB", "pl_PL", "pt_PT", "fi_FI", "de_AT"]

PII_TEMPLATES = [
    "{PERSON} asked me to move the review to thursday, can you update the invite?",
    "Could you write a short thank-you note to {PERSON} for the onboarding help?",
    "Summarize the call notes: {PERSON} from the {LOCATION} office wants a discount.",
    "I'm travelling to {LOCATION} with {PERSON} on Monday, book two rooms please",
    "please forward this to {PERSON} ({EMAIL_ADDRESS}) asap",
    "mobile {PHONE_NUMBER}, ask for {PERSON}",
    "phone {PHONE_NUMBER}",
    "You can reach me on {PHONE_NUMBER} after 6pm.",
    "my number is {PHONE_NUMBER} if anything goes wrong with the delivery",
    "Customer: {PERSON}\nPhone: {PHONE_NUMBER}\nEmail: {EMAIL_ADDRESS}\nCity: {LOCATION}",
    "Contact details for the vendor: {PERSON}, tel. {PHONE_NUMBER}",
    "social security number {US_SSN}",
    "Her SSN is {US_SSN} and she was born in {LOCATION}.",
    "update employee file: ssn {US_SSN}, name {PERSON}",
    "The applicant ({PERSON}) gave {US_SSN} as social security no.",
    "Pay the supplier in {LOCATION}: IBAN {IBAN_CODE}, reference PO-8812",
    "bank account {IBAN_CODE} belongs to {PERSON}",
    "card {CREDIT_CARD} exp 09/27, cvv on the back. why was it declined??",
    "Charge {CREDIT_CARD} for the annual plan and send the receipt to {EMAIL_ADDRESS}",
    "Login attempts from {IP_ADDRESS} failed for user {PERSON}.",
    "firewall blocked {IP_ADDRESS} twice last night, is that the {LOCATION} office?",
    "we're opening a store in {LOCATION} next spring, {PERSON} will run it",
    "Is {LOCATION} or {LOCATION} better for a team offsite in May?",
    "translate to german: Dear {PERSON}, your parcel to {LOCATION} has shipped.",
    "{PERSON} and {PERSON} both need access to the finance dashboard",
    "Rewrite this more politely: {PERSON} you missed the deadline again.",
    "From: {PERSON} <{EMAIL_ADDRESS}>\nSubject: contract renewal\nCan we talk tomorrow?",
    "Meeting with {PERSON} in {LOCATION} moved to 3pm. Her cell is {PHONE_NUMBER}.",
    "thanks {PERSON}, got it",
    "lol {PERSON} just sent the wrong file again",
    "Who handles accounts in {LOCATION}? I think it's {PERSON}.",
    "patient {PERSON}, dob 04/11/1982, lives in {LOCATION}, call {PHONE_NUMBER}",
    "Send the NDA to {EMAIL_ADDRESS} and copy {PERSON}.",
    "The package for {PERSON} is stuck in customs in {LOCATION}.",
    "Draft an out-of-office reply that points people to {PERSON} at {EMAIL_ADDRESS}.",
    "server {IP_ADDRESS} -> {IP_ADDRESS} latency spiked, ping me",
    "{LOCATION} weather tomorrow? {PERSON} is driving there",
    "New hire: {PERSON}, starts monday in {LOCATION}, ssn {US_SSN}",
    "pls refund {PERSON}, card ending {CREDIT_CARD}",
    "Hi, I am {PERSON} and I live in {LOCATION}. Call me at {PHONE_NUMBER}.",
]
CLEAN_TEMPLATES = [
    "Can you explain how the Kafka consumer group rebalances when a pod restarts?",
    "The invoice number is 2024-118-7731 and the total is 4,210.50 EUR.",
    "Please add the cc number field to the checkout form validation rules.",
    "Write a haiku about Monday mornings and cold coffee.",
    "Our Q3 OKRs: reduce churn by 2%, ship SSO, migrate to Postgres 16.",
    "version 3.11.4 broke the build, roll back to 3.11.2",
    "The deadline is 12/05/2026 at 17:00 CET.",
    "Compare AWS Lambda and Google Cloud Run for a small API.",
    "Order #88213 shipped via UPS, tracking will follow.",
    "What does HTTP status 429 mean and how should a client back off?",
    "PLEASE REVIEW THE BUDGET SHEET BEFORE FRIDAY",
    "the standup moves to 9:45 tomorrow, same room",
    "Can you turn these bullet points into a short Slack announcement?",
    "Set max_connections to 200 and shared_buffers to 4GB.",
    "Is it better to use a UUID or a bigint as the primary key?",
    "Explain the difference between TCP and UDP to a new engineer.",
    "The SKU 4006381333931 is out of stock in two warehouses.",
    "our nps went from 31 to 44 after the redesign",
    "Reminder: the All Hands is on Thursday at 16:00.",
    "Generate five names for a new internal tool that tracks expenses.",
    "The room seats 12 people and has a projector.",
    "Refactor this function to avoid the N+1 query problem.",
    "WHY IS THE DASHBOARD SO SLOW TODAY",
    "Translate 'good morning, the report is attached' into Spanish.",
    "The ticket JIRA-4471 is blocked by the API change.",
    "Please call the function with retries=3 and backoff=2.0.",
    "Text me when the deploy finishes.",
    "Does the Premium plan include phone support?",
    "I need a regex that matches ISO dates like 2026-12-02.",
    "Social media campaign results: 1.2M impressions, 3% CTR.",
]
STREETLESS_CUES = ["", "", "", "fyi ", "quick one: ", "URGENT: ", "hey, ", "re: "]


class Maker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        every = sorted({*NAME_LOCALES, *CITY_LOCALES, *PHONE_LOCALES, *IBAN_LOCALES})
        self.fakers = {loc: Faker(loc) for loc in every}
        for index, faker in enumerate(self.fakers.values()):
            faker.seed_instance(SEED + index)
        self.english = Faker("en_US")
        self.english.seed_instance(SEED - 1)

    def faker(self, locales: list[str]) -> Faker:
        return self.fakers[self.rng.choice(locales)]

    def __call__(self, slot: str) -> tuple[str, str]:
        return slot, getattr(self, slot.lower())()

    def person(self) -> str:
        f = self.faker(NAME_LOCALES)
        first, last = f.first_name(), f.last_name()
        roll = self.rng.random()
        if roll < 0.55:
            return f"{first} {last}"
        if roll < 0.8:
            return first
        if roll < 0.9:
            return f"{self.rng.choice(['Mr.', 'Ms.', 'Dr.', 'Mrs.'])} {last}"
        return f"{first} {f.first_name()} {last}"

    def location(self) -> str:
        roll = self.rng.random()
        if roll < 0.5:
            return str(self.faker(CITY_LOCALES).city())
        if roll < 0.7:
            return str(self.english.state())
        if roll < 0.85:
            return str(self.english.country())
        return str(self.fakers["fr_FR"].region())

    def email_address(self) -> str:
        return str(self.faker(NAME_LOCALES).email())

    def phone_number(self) -> str:
        return str(self.faker(PHONE_LOCALES).phone_number())

    def us_ssn(self) -> str:
        digits = self.english.ssn().replace("-", "")
        a, b, c = digits[:3], digits[3:5], digits[5:]
        return self.rng.choice([f"{a}-{b}-{c}", f"{a} {b} {c}", digits, f"{a}.{b}.{c}", f"{a}-{b}-{c}"])

    def credit_card(self) -> str:
        number = str(self.english.credit_card_number())
        if self.rng.random() < 0.4 and len(number) == 16:
            sep = self.rng.choice([" ", "-"])
            return sep.join(number[i : i + 4] for i in range(0, 16, 4))
        if len(number) < 13:  # a too-short brand from Faker: use a Visa instead
            return luhn_complete("4", 16, self.rng)
        return number

    def iban_code(self) -> str:
        value = str(self.faker(IBAN_LOCALES).iban())
        if self.rng.random() < 0.4:
            return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        return value

    def ip_address(self) -> str:
        return str(self.english.ipv4() if self.rng.random() < 0.7 else self.english.ipv6())


ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060"]
FULL_WIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}


def style_for(rng: random.Random):  # type: ignore[no-untyped-def]
    kind = rng.choices(
        ["plain", "lower", "upper", "messy", "hidden", "title"], [0.42, 0.2, 0.11, 0.12, 0.08, 0.07]
    )[0]

    def style(value: str, entity: str | None, r: random.Random) -> str:
        if kind == "lower":
            return value.lower()
        if kind == "upper":
            return value.upper()
        if kind == "title":  # every word capitalised, as in a subject line
            return " ".join(w[:1].upper() + w[1:] for w in value.split(" "))
        if kind == "messy":
            value = value.replace(". ", ".  ").replace(", ", " ,") if entity is None else value
            return value.replace(" ", r.choice([" ", "  ", "\t", " \n"])) if entity is None else value
        if kind == "hidden" and entity is not None:
            if entity in ("PHONE_NUMBER", "US_SSN") and r.random() < 0.5:
                return "".join(FULL_WIDTH.get(ch, ch) for ch in value)
            cut = r.randint(1, max(1, len(value) - 1))
            return value[:cut] + r.choice(ZERO_WIDTH) + value[cut:]
        return value

    return style


def main() -> None:
    rng = random.Random(SEED)
    maker = Maker(rng)
    rows = []
    for _ in range(520):
        template = rng.choice(STREETLESS_CUES) + rng.choice(PII_TEMPLATES)
        parts: list[Segment] = segments(template, maker)
        rows.append(assemble(parts, style_for(rng), rng))
    for _ in range(130):
        parts = segments(rng.choice(CLEAN_TEMPLATES), maker)
        rows.append(assemble(parts, style_for(rng), rng))
    rng.shuffle(rows)
    write_jsonl(OUT, rows)


if __name__ == "__main__":
    main()

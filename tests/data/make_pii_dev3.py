"""Generate tests/data/pii_dev3.jsonl: the third development set (issue 15, round 4).

Built after rounds 2 and 3 left held-out PERSON recall at 0.893 and US_SSN at 0.982 with
the remaining development misses all of kinds the older sets hold few of. It aims at
those: people in chat written the way people type them.

* names come from Faker locales no other set uses (Swahili, Twi, Yoruba, Igbo, Hausa,
  Zulu, Uzbek, Thai in English, Icelandic, Belgian French, Luxembourgish German,
  Catalan); places from the locales of those with lists of real towns (South Africa,
  Bangladesh);
* names placed where chat puts them, mostly without the classic cues: as the subject of
  a sentence ("kwame will run it"), in lists, in @-mentions, after "w/", "per", "re:",
  in short commands, in CSV rows and key/value lines;
* writing styles: as written, all lower case, all capitals, the name alone in capitals
  inside an ordinary sentence (forms and tickets do this), no punctuation, doubled
  spaces;
* SSNs in the forms people paste them (spaced, dotted, glued, after a label, in a row);
* 160 clean messages written for this set: capitalised product words, acronyms in
  capitals, commands and code, to keep the precision honest.

The guard's rules may be tuned on this set (docs/guard.md, "Evaluation"). Deterministic
(fixed seed; Faker pinned in the ``data`` extra):

    .venv/bin/python tests/data/make_pii_dev3.py     # rewrites pii_dev3.jsonl
"""

from __future__ import annotations

import random
from pathlib import Path

from evalkit import Segment, assemble, segments, write_jsonl  # the script's folder
from faker import Faker

SEED = 20261204
OUT = Path(__file__).with_name("pii_dev3.jsonl")
NAME_LOCALES = [
    "sw",
    "tw_GH",
    "yo_NG",
    "ig_NG",
    "ha_NG",
    "zu_ZA",
    "uz_UZ",
    "en_TH",
    "is_IS",
    "fr_BE",
    "de_LU",
    "es_CA",
]
CITY_LOCALES = ["zu_ZA", "en_BD"]

PII_TEMPLATES = [
    "{PERSON} will run the standup tomorrow",
    "{PERSON} and {PERSON} are both on leave next week",
    "@{PERSON} can you take a look at the failing build",
    "pairing w/ {PERSON} this afternoon on the export bug",
    "per {PERSON}, the invoice goes out on the 5th",
    "re: {PERSON} - contract renewal",
    "{PERSON} pls resend the signed copy",
    "name,team,start\n{PERSON},finance,2024-03-01\n{PERSON},ops,2024-04-15",
    "employee: {PERSON}\nmanager: {PERSON}\nlocation: {LOCATION}",
    "{PERSON} here, my laptop won't boot after the update",
    "hi {PERSON}, the quote is attached",
    "yo {PERSON} u around?",
    "{PERSON} (finance) approved the budget line",
    "the new hire is {PERSON}, starts monday in {LOCATION}",
    "can someone add {PERSON} to the on-call rota",
    "draft an apology to {PERSON} for the late delivery",
    "{PERSON} says the warehouse in {LOCATION} is out of stock",
    "summarise this thread between {PERSON} and {PERSON}",
    "{PERSON}'s visa paperwork is stuck, can HR help",
    "translate this for {PERSON}: the meeting moved to 3pm",
    "interview feedback for {PERSON}: strong on SQL, weak on testing",
    "{PERSON} {PERSON} and {PERSON} joined the call late",
    "who approved {PERSON}'s expense report",
    "remind {PERSON} about the audit on friday",
    "{PERSON} left the company, reassign her tickets",
    "write a birthday note for {PERSON} from the whole team",
    "patient {PERSON}, follow-up in two weeks",
    "driver {PERSON} is stuck at the border near {LOCATION}",
    "the landlord, {PERSON}, wants the deposit by monday",
    "is {PERSON} still the contact for the {LOCATION} site",
    "{PERSON}: done. {PERSON}: still blocked on the api key",
    "lunch with {PERSON} got moved",
    "ok {PERSON} thx",
    "sent the form to {PERSON} yesterday, no reply yet",
    "please update the payroll record of {PERSON}, SSN {US_SSN}",
    "SSN: {US_SSN} name: {PERSON}",
    "{PERSON}, {US_SSN}, {LOCATION}",
    "her social security number is {US_SSN}",
    "ss no {US_SSN} for the tax form",
    "tax id (ssn) {US_SSN}",
    "the applicant's SSN is {US_SSN}, please verify",
    "ssn={US_SSN}",
    "SOCIAL SECURITY # {US_SSN}",
    "verify {US_SSN} against the W-2",
]

CLEAN = [
    "restart the API gateway and check the logs",
    "Does Kubernetes support rolling updates for StatefulSets?",
    "the CI is red again, looks like a flaky test",
    "convert this CSV to JSON please",
    "what is the difference between TCP and UDP",
    "PR is ready for review, please squash before merging",
    "ETA for the SDK release?",
    "can you explain OAuth scopes in simple terms",
    "the VPN drops every hour on macOS",
    "write a SQL query that counts orders per month",
    "Monday standup moved to 10am",
    "FYI the staging DB is being migrated tonight",
    "we need a summary of the Q3 OKRs",
    "Please Review The Attached Proposal Before Friday",
    "THE SERVER IS DOWN AGAIN",
    "URGENT: PAYMENT GATEWAY RETURNS 502",
    "how do I set up SSO with SAML",
    "the AWS bill doubled this month",
    "rename the S3 bucket to something clearer",
    "give me three ideas for a team offsite",
    "what are good practices for code review",
    "is Rust faster than Go for CLI tools",
    "explain the CAP theorem like I'm five",
    "our NPS dropped after the redesign",
    "can you draft release notes for v2.4",
    "the cron job runs at midnight UTC",
    "Grafana dashboard shows a spike at 3am",
    "migrate the Terraform state to the new backend",
    "LGTM, ship it",
    "please proofread: We are excited to announce our new pricing.",
    "set the TTL to 300 seconds",
    "The Marketing Team Will Meet On Thursday",
    "BUILD FAILED ON MAIN",
    "how many tokens does this prompt use",
    "add a retry with exponential backoff",
    "Can Jenkins trigger on tags only?",
    "the PDF export cuts off the last column",
    "summarize the GDPR obligations for a small shop",
    "is there a limit on Slack message length",
    "write a haiku about deadlines",
]


def _clean_variants(rng: random.Random) -> list[str]:
    out = []
    for _ in range(4):
        for text in CLEAN:
            style = rng.choice(["as", "lower", "upper", "as"])
            out.append(text.lower() if style == "lower" else text.upper() if style == "upper" else text)
    return out


class Maker:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers = {loc: Faker(loc) for loc in {*NAME_LOCALES, *CITY_LOCALES}}
        for index, faker in enumerate(self.fakers.values()):
            faker.seed_instance(seed + index)

    def value(self, slot: str) -> tuple[str, str]:
        rng = self.rng
        if slot == "PERSON":
            faker = self.fakers[rng.choice(NAME_LOCALES)]
            kind = rng.random()
            if kind < 0.35:
                return slot, str(faker.first_name())
            return slot, f"{faker.first_name()} {faker.last_name()}"
        if slot == "LOCATION":
            return slot, str(self.fakers[rng.choice(CITY_LOCALES)].city())
        if slot == "US_SSN":
            return slot, self.ssn()
        raise KeyError(slot)

    def ssn(self) -> str:
        rng = self.rng
        area = rng.choice([n for n in range(1, 900) if n != 666])
        group, serial = rng.randint(1, 99), rng.randint(1, 9999)
        a, g, s = f"{area:03d}", f"{group:02d}", f"{serial:04d}"
        form = rng.choice(["-", "-", " ", ".", "", " - "])
        return f"{a}{form}{g}{form}{s}"


def _style(rng: random.Random) -> str:
    return rng.choice(["as", "lower", "lower", "upper", "name_caps", "no_punct", "spaces"])


def _apply(style: str) -> object:
    def apply(text: str, entity: str | None, rng: random.Random) -> str:
        if style == "lower":
            return text.lower()
        if style == "upper":
            return text.upper()
        if style == "name_caps":
            return text.upper() if entity == "PERSON" else text
        if style == "no_punct":
            return text if entity else "".join(ch for ch in text if ch not in ",.:;!?'")
        if style == "spaces":
            return text if entity else text.replace(" ", "  ", 1)
        return text

    return apply


def build() -> list[dict[str, object]]:
    maker = Maker(SEED)
    rows: list[dict[str, object]] = []
    for _ in range(14):
        for template in PII_TEMPLATES:
            parts: list[Segment] = segments(template, maker.value)
            rows.append(assemble(parts, _apply(_style(maker.rng)), maker.rng))  # type: ignore[arg-type]
    for text in _clean_variants(maker.rng):
        rows.append({"text": text, "spans": []})
    maker.rng.shuffle(rows)
    return rows


if __name__ == "__main__":
    rows = build()
    write_jsonl(OUT, rows)
    print(f"wrote {len(rows)} messages to {OUT}")

"""Generate tests/data/pii_eval.jsonl: labeled chat-style messages for `skein guard eval`.

Deterministic (fixed seed): re-running gives the same file. Each line is
``{"id", "text", "spans": [{"entity", "start", "end"}]}``; messages without PII have no
spans. Names and places are drawn from lists written for this file; about a third of them
are NOT in the guard's gazetteer, so recall is not just a dictionary lookup.

    python tests/data/make_pii_eval.py   # rewrites pii_eval.jsonl next to this file
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

SEED = 20261124
OUT = Path(__file__).with_name("pii_eval.jsonl")

# fmt: off
FIRST = [
    "James", "Maria", "Sarah", "David", "Aisha", "Wei", "Olga", "Carlos", "Emily", "Rahul", "Fatima",
    "Lucas", "Hannah", "Kenji", "Nadia", "Peter", "Sofia", "Daniel", "Ingrid", "Omar", "Priyanka",
    "Siobhan", "Tomasz", "Bartholomew", "Aurelio", "Ngozi", "Dagny", "Eero", "Lucinda", "Thandiwe",
]
LAST = [
    "Smith", "Garcia", "Chen", "Okafor", "Kowalski", "Nguyen", "Patel", "Johnson", "Müller", "Rossi",
    "Andersen", "Haddad", "Tanaka", "Brown", "Lopez", "Deshmukh", "Fitzgerald", "Vasquez", "Lindgren",
    "Achterberg", "Quispe", "Oyelaran", "Whitfield", "Castellanos", "Brennan",
]
PLACES = [
    "Berlin", "Paris", "London", "Tokyo", "Chicago", "Madrid", "Toronto", "Sydney", "Mumbai", "Lagos",
    "Boston", "Seattle", "Amsterdam", "Lisbon", "Vienna", "Germany", "France", "Canada", "Brazil",
    "Kenya", "Texas", "California", "New York", "San Francisco", "Tucson", "Rennes", "Aarhus", "Galway",
    "Ghent", "Bergen", "Tampere", "Poznan", "Leuven", "Asheville", "Bolzano",
]
# fmt: on
DOMAINS = ["example.com", "acme.io", "mail.example.org", "corp.example.co.uk", "fastmail.test"]
IBAN_FORMATS = {
    "DE": "n18",
    "GB": "a4n14",
    "FR": "n23",
    "NL": "a4n10",
    "ES": "n20",
    "IT": "a1n22",
    "BE": "n12",
}

PII_TEMPLATES = [
    "Hi, can you email {PERSON} at {EMAIL_ADDRESS} about the invoice?",
    "please ask {person} to call me back on {PHONE_NUMBER}",
    "My card number is {CREDIT_CARD}, expiry next year. Can you check why it was declined?",
    "The customer's SSN is {US_SSN}, please update the record.",
    "Transfer the deposit to IBAN {IBAN_CODE} before Friday.",
    "The server at {IP_ADDRESS} keeps timing out, can you look at the logs?",
    "{PERSON} is flying to {LOCATION} next week for the client workshop.",
    "we met {person} in {LOCATION} last month and she liked the demo",
    "Summarise this complaint from {PERSON} ({EMAIL_ADDRESS}), phone {PHONE_NUMBER}.",
    "Draft a reply to {PERSON} confirming the refund to card {CREDIT_CARD}.",
    "Block traffic from {IP_ADDRESS} and {IP_ADDRESS} on the firewall.",
    "Our office in {LOCATION} needs a new router; the old one was {IP_ADDRESS}.",
    "i talked to {person} yesterday, her number is {PHONE_NUMBER}",
    "Please verify SSN {US_SSN} for {PERSON} before payroll runs.",
    "Wire {IBAN_CODE} was rejected, the account holder is {PERSON}.",
    "Can you translate this note for {PERSON}? She lives in {LOCATION}.",
    "ping {person} about the Q3 numbers, she is in {LOCATION} this week",
    "Forward the contract to {EMAIL_ADDRESS} and cc {EMAIL_ADDRESS}.",
    "Call {PHONE_NUMBER} if the delivery to {LOCATION} is late.",
    "Refund card {CREDIT_CARD} and notify {EMAIL_ADDRESS}.",
    "Dear {PERSON}, thank you for your message about the renewal.",
    "Employee record: name {PERSON}, SSN {US_SSN}, phone {PHONE_NUMBER}.",
    "The VPN gateway is {IP_ADDRESS}; {PERSON} owns the config.",
    "Write a short bio for {PERSON}, a designer based in {LOCATION}.",
    "Thanks {person}! I'll send the slides to {EMAIL_ADDRESS} tonight.",
    "Our supplier's bank details: {IBAN_CODE}, reference 4471.",
    "who is the account manager for {LOCATION}? {PERSON} left in June",
    "Please pay invoice 2291 with the company card {CREDIT_CARD}.",
    "I moved from {LOCATION} to {LOCATION} and need to update my address.",
    "can you check why {person} can't log in from {IP_ADDRESS}?",
    "Schedule a call with {PERSON} and {PERSON} on Tuesday at 3pm.",
    "{PERSON} reported that the dashboard in {LOCATION} shows wrong totals.",
    "My phone is {PHONE_NUMBER} and my email is {EMAIL_ADDRESS}.",
    "Contact: {PERSON}, {PHONE_NUMBER}, {EMAIL_ADDRESS}",
    "The tax form lists SSN {US_SSN} but the name is misspelled.",
    "hey, {person} here. my iban changed to {IBAN_CODE}",
]
CLEAN = [
    "Can you summarise the attached quarterly report in three bullet points?",
    "Write a Python function that parses ISO 8601 dates and returns UTC datetimes.",
    "The build failed on version 2.4.1 with exit code 137, probably out of memory.",
    "Release 1.2.3.4 fixed the cache invalidation bug in the API layer.",
    "We shipped 1500 units in March and expect 2000 in April.",
    "Our P95 latency went from 120 ms to 95 ms after the index change.",
    "Explain the difference between a mutex and a semaphore with an example.",
    "The meeting is at 10:30 tomorrow in the large conference room.",
    "Please review the pull request and leave comments on the retry logic.",
    "Convert 25 degrees Celsius to Fahrenheit and explain the formula.",
    "The order total was 249.99 dollars including tax.",
    "Tracking number 1Z999AA10123456784 shows the parcel is in transit.",
    "Set the timeout to 30 seconds and the retry count to 5.",
    "The ratio of reads to writes is roughly 16:9 on the main cluster.",
    "Deploy the service with Docker Compose and check the health endpoint.",
    "Our SLA promises 99.9 percent uptime measured monthly.",
    "How do I configure OAuth 2.0 with PKCE for a single page app?",
    "Invoice INV-2024-0042 is due on 2024-12-15.",
    "The Kubernetes pod restarted 3 times in the last hour.",
    "Please draft a polite reminder about the pending budget approval.",
    "The product code is 123-456-789 and the batch is B-77.",
    "What are the pros and cons of PostgreSQL versus MySQL for analytics?",
    "Generate a SQL query that counts orders per day for the last week.",
    "The test suite takes 42 seconds on CI and 30 locally.",
    "Thanks for the update, let's discuss it in the next sprint planning.",
    "The chart shows revenue up 12 percent quarter over quarter.",
    "Use port 8080 for the admin console and 443 for public traffic.",
    "The function returns None when the list is empty.",
    "Our roadmap has five themes: reliability, cost, speed, security and UX.",
    "Monitoring runs on Grafana and Prometheus with 15 second scrapes.",
    "hi team, the build is green again, thanks everyone",
    "thanks again for the quick help yesterday!",
    "can you ask support about the outage this morning?",
    "please call me back when the deploy is done",
    "hey folks, standup moves to 10 today",
    "tell management the migration slipped a week",
    "email the vendor and ask for the updated quote",
    "i talked to the landlord and the heating is fixed",
    "we met at the conference and discussed pricing",
    "ping me when the report is ready",
    "thanks, that fixed it. one more question about caching",
    "hello, can you explain how retries work in celery?",
    "dear diary style summaries are not what we want here",
    "remind everyone that the office is closed on monday",
    "ask around whether anyone has the admin password reset link",
]


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        number = body + check
        total = 0
        for i, ch in enumerate(reversed(number)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return number
    raise AssertionError("unreachable")


def card(rng: random.Random) -> str:
    brand = rng.choice(["visa", "mc", "mc2", "amex", "discover"])
    if brand == "amex":
        n = luhn_complete(rng.choice(["34", "37"]), 15, rng)
        sep = rng.choice(["", " ", "-"])
        return sep.join([n[:4], n[4:10], n[10:]]) if sep else n
    prefix = {
        "visa": "4",
        "mc": str(rng.randint(51, 55)),
        "mc2": str(rng.randint(2221, 2720)),
        "discover": "6011",
    }[brand]
    n = luhn_complete(prefix, 16, rng)
    sep = rng.choice(["", " ", "-"])
    return sep.join(n[i : i + 4] for i in range(0, 16, 4))


def phone(rng: random.Random) -> str:
    a, b, c = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
    return rng.choice(
        [
            f"{a}-{b}-{c:04d}",
            f"({a}) {b}-{c:04d}",
            f"{a}.{b}.{c:04d}",
            f"+1 {a}-{b}-{c:04d}",
            f"+44 20 {rng.randint(7000, 8999)} {c:04d}",
            f"+49 30 {rng.randint(100000, 999999)}",
            f"+33 1 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
        ]
    )


def ssn(rng: random.Random) -> str:
    area = rng.choice([x for x in range(1, 900) if x != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def iban(rng: random.Random) -> str:
    country = rng.choice(sorted(IBAN_FORMATS))
    bban = ""
    for kind, count in re.findall(r"([an])(\d+)", IBAN_FORMATS[country]):
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if kind == "a" else "0123456789"
        bban += "".join(rng.choice(alphabet) for _ in range(int(count)))
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    value = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4)) if rng.random() < 0.5 else value


def ip(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    if rng.random() < 0.5:
        return ":".join(groups)
    return f"2001:db8::{groups[0]}:{groups[1]}"


def value_for(slot: str, rng: random.Random) -> tuple[str, str]:
    if slot in ("PERSON", "person"):
        name = rng.choice(FIRST) + (" " + rng.choice(LAST) if rng.random() < 0.7 else "")
        return "PERSON", name.lower() if slot == "person" else name
    if slot == "EMAIL_ADDRESS":
        return slot, f"{rng.choice(FIRST).lower()}.{rng.choice(LAST).lower()}@{rng.choice(DOMAINS)}"
    makers = {
        "LOCATION": lambda r: r.choice(PLACES),
        "PHONE_NUMBER": phone,
        "CREDIT_CARD": card,
        "US_SSN": ssn,
        "IBAN_CODE": iban,
        "IP_ADDRESS": ip,
    }
    return slot, makers[slot](rng)


def render(template: str, rng: random.Random) -> dict[str, object]:
    text, spans, cursor = "", [], 0
    for match in re.finditer(r"\{(\w+)\}", template):
        text += template[cursor : match.start()]
        entity, value = value_for(match.group(1), rng)
        if match.start() == 0 and entity == "PERSON":
            value = value[0].upper() + value[1:]
        spans.append({"entity": entity, "start": len(text), "end": len(text) + len(value)})
        text += value
        cursor = match.end()
    text += template[cursor:]
    return {"text": text, "spans": spans}


def main() -> None:
    rng = random.Random(SEED)
    rows = [render(rng.choice(PII_TEMPLATES), rng) for _ in range(400)]
    rows += [{"text": t, "spans": []} for t in CLEAN]
    rows += [
        {"text": f"{a} {b}", "spans": []}
        for a, b in zip(rng.sample(CLEAN, 35), rng.sample(CLEAN, 35), strict=True)
    ]
    with OUT.open("w", encoding="utf-8") as out:
        for index, row in enumerate(rows):
            out.write(json.dumps({"id": index, **row}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

"""Build ``pii_check2.jsonl``: an independent labeled set for the privacy guard.

Names and places come from Faker / mimesis locales that the other sets do not use
(Vietnamese, Azerbaijani, Algerian, Greek, Cyrillic, Georgian, Armenian, Hebrew,
Arabic, Persian, Korean, Japanese, Chinese, Nepali, Bengali, Thai), about 70% in
Latin script (native Latin, or a common romanisation of Cyrillic, Greek and
Georgian) and 30% in the original script.  Templates and clean messages are new.

Run from this folder: ``python make_pii_check2.py`` (deterministic, fixed seed).
"""

from __future__ import annotations

import random
import string
import unicodedata
import warnings
from pathlib import Path

from evalkit import assemble, luhn_complete, segments, write_jsonl
from faker import Faker
from mimesis import Address, Locale, Person
from mimesis.enums import Gender

warnings.filterwarnings("ignore")
SEED = 20261203
N_PII = 400
N_CLEAN = 150
SOURCES: list[str] = []
OUT = Path(__file__).with_name("pii_check2.jsonl")

# --------------------------------------------------------------------------- sources

_FAKERS: dict[str, Faker] = {}


def fk(locale: str) -> Faker:
    if locale not in _FAKERS:
        faker = Faker(locale)
        faker.seed_instance(SEED + len(_FAKERS))
        _FAKERS[locale] = faker
    return _FAKERS[locale]


def provider(locale: str, kind: str):
    return fk(locale).provider(f"faker.providers.{kind}")


def mim_names(locale: Locale, n: int = 80) -> list[str]:
    person = Person(locale, seed=SEED)
    out = []
    for i in range(n):
        out.append(person.full_name(gender=Gender.MALE if i % 2 else Gender.FEMALE))
    return out


def mim_cities(locale: Locale, n: int = 60) -> list[str]:
    address = Address(locale, seed=SEED)
    return sorted({address.city().strip() for _ in range(n)})


def table(letters: str, romans: str) -> dict[str, str]:
    return dict(zip(letters, romans.split(), strict=True))


CYR = table(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґўәғқңөұүһјљњќѓџѕ",
    "a b v g d e yo zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya "
    "i yi ye g u a g k ng o u u h j lj nj kj gj dzh dz",
)
CYR["ъ"] = CYR["ь"] = ""
GREEK = table(
    "αβγδεζηθικλμνξοπρστςυφχψωάέήίόύώϊϋΐΰ",
    "a v g d e z i th i k l m n x o p r s t s y f ch ps o a e i i o y o i y i y",
)
GEO = table(
    "აბგდევზთიკლმნოპჟრსტუფქღყშჩცძწჭხჯჰ",
    "a b g d e v z t i k l m n o p zh r s t u p k gh q sh ch ts dz ts ch kh j h",
)
FOLD = {"ə": "e", "Ə": "E", "ı": "i", "đ": "d", "Đ": "D", "ʼ": "", "'": ""}  # noqa: RUF001


GREEK_PAIRS = {"ου": "ou", "ού": "ou", "αυ": "av", "αύ": "av", "ευ": "ev", "εύ": "ev", "μπ": "mp", "ντ": "nt"}  # noqa: RUF001


def translit(text: str, table: dict[str, str]) -> str:
    if table is GREEK:
        for pair, rep in GREEK_PAIRS.items():
            text = text.replace(pair, rep).replace(pair.capitalize(), rep.capitalize())
    out = []
    for ch in text:
        low = ch.lower()
        if low in table:
            rep = table[low]
            out.append(rep.capitalize() if ch != low else rep)
        else:
            out.append(ch)
    word = "".join(out)
    # Georgian has no case: capitalise each word.
    return " ".join(w[:1].upper() + w[1:] for w in word.split(" ")) if table is GEO else word


def fold(text: str) -> str:
    text = "".join(FOLD.get(ch, ch) for ch in text)
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def strip_title(name: str) -> str:
    for title in ("Г-н ", "Г-жа ", "Г-ца ", "Др. ", "Проф. ", "тов. ", "Cô ", "Quý ông ", "Bà ", "Ông "):
        name = name.replace(title, "")
    return name


class Profile:
    """Coherent source for one message: names, places, phone, IBAN, mail domain."""

    def __init__(self, key, latin, names, cities, phone=None, iban=None, country=None, domains=()):
        self.key, self.latin = key, latin
        self.names, self.cities, self.country = names, cities, country
        self.phone_locale, self.iban_locale = phone, iban
        self.domains = list(domains) or ["gmail.com", "yahoo.com", "outlook.com"]


def vi_names(ascii_only: bool) -> list[str]:
    p = provider("vi_VN", "person")
    rng = random.Random(SEED + 1)
    firsts = list(p.first_names_male) + list(p.first_names_female)
    out = []
    for _ in range(120):
        parts = [rng.choice(list(p.last_names)), rng.choice(list(p.middle_names)), rng.choice(firsts)]
        if rng.random() < 0.3:
            parts.pop(1)
        name = " ".join(parts)
        out.append(fold(name) if ascii_only else name)
    return out


def build_profiles() -> list[tuple[Profile, int]]:
    vi_addr = provider("vi_VN", "address")
    vi_places = list(vi_addr.cities) + list(vi_addr.provinces)
    az_places = sorted(set(provider("az_AZ", "address").cities) | set(mim_cities(Locale.AZ)))
    az_names = [strip_title(fk("az_AZ").name()) for _ in range(60)] + mim_names(Locale.AZ, 60)
    dz = fk("fr_DZ")
    dz_names = [f"{dz.first_name()} {dz.last_name()}" for _ in range(120)]
    dz_places = list(provider("fr_DZ", "address").cities)
    cyr_sets = {
        "ru": (mim_names(Locale.RU), mim_cities(Locale.RU), "ru_RU", None),
        "uk": (mim_names(Locale.UK), mim_cities(Locale.UK), "uk_UA", "uk_UA"),
        "kk": (mim_names(Locale.KK), mim_cities(Locale.KK), None, None),
        "mk": (
            [strip_title(fk("mk_MK").name()) for _ in range(80)],
            list(provider("mk_MK", "address").cities),
            "mk_MK",
            "mk_MK",
        ),
    }
    el_names = [strip_title(fk("el_GR").name()) for _ in range(60)] + mim_names(Locale.EL, 60)
    el_places = sorted(set(provider("el_GR", "address").cities) | set(mim_cities(Locale.EL)))
    ka_names = [fk("ka_GE").name() for _ in range(80)]
    ka_places = list(provider("ka_GE", "address").city_names)
    countries = {
        "ru": ("Россия", "Russia"),
        "uk": ("Україна", "Ukraine"),
        "kk": ("Қазақстан", "Kazakhstan"),
        "mk": ("Македонија", "North Macedonia"),
    }
    profiles: list[tuple[Profile, int]] = [
        (Profile("vi", True, vi_names(False), vi_places, "vi_VN", None, "Việt Nam"), 14),
        (
            Profile("vi_ascii", True, vi_names(True), [fold(c) for c in vi_places], "vi_VN", None, "Vietnam"),
            6,
        ),
        (Profile("az", True, az_names, az_places, "az_AZ", "az_AZ", "Azərbaycan"), 12),
        (Profile("dz", True, dz_names, dz_places, "fr_DZ", None, "Algérie"), 12),
        (
            Profile(
                "el_lat",
                True,
                [translit(n, GREEK) for n in el_names],
                [translit(c, GREEK) for c in el_places],
                "el_GR",
                "el_GR",
                "Greece",
            ),
            8,
        ),
        (
            Profile(
                "ka_lat",
                True,
                [translit(n, GEO) for n in ka_names],
                [translit(c, GEO) for c in ka_places],
                "ka_GE",
                None,
                "Georgia",
            ),
            4,
        ),
        (Profile("el", False, el_names, el_places, "el_GR", "el_GR", "Ελλάδα"), 5),
        (Profile("ka", False, ka_names, ka_places, "ka_GE", None, "საქართველო"), 2),
        (
            Profile(
                "hy",
                False,
                [fk("hy_AM").name() for _ in range(60)],
                list(provider("hy_AM", "address").cities),
                "hy_AM",
                None,
                "Հայաստան",
            ),
            2,
        ),
        (
            Profile(
                "he",
                False,
                [fk("he_IL").name() for _ in range(60)],
                list(provider("he_IL", "address").city_names),
                "he_IL",
                None,
                "ישראל",
            ),
            3,
        ),
        (
            Profile(
                "ar",
                False,
                mim_names(Locale.AR_DZ, 40) + [fk("ar_DZ").name() for _ in range(40)],
                mim_cities(Locale.AR_DZ) + list(provider("ar_DZ", "address").cities),
                "ar_DZ",
                None,
                "الجزائر",
            ),
            4,
        ),
        (Profile("fa", False, mim_names(Locale.FA), mim_cities(Locale.FA), "fa_IR", "fa_IR", "ایران"), 2),
        (
            Profile(
                "ko",
                False,
                [fk("ko_KR").name() for _ in range(40)],
                list(provider("ko_KR", "address").metropolitan_cities) + mim_cities(Locale.KO),
                "ko_KR",
                None,
                "대한민국",
            ),
            2,
        ),
        (
            Profile(
                "ja",
                False,
                [fk("ja_JP").name() for _ in range(40)],
                mim_cities(Locale.JA),
                "ja_JP",
                None,
                "日本",
            ),
            1,
        ),
        (
            Profile(
                "zh",
                False,
                [fk("zh_TW").name() for _ in range(40)],
                list(provider("zh_TW", "address").cities),
                "zh_TW",
                None,
                "台灣",
            ),
            1,
        ),
        (
            Profile(
                "ne",
                False,
                [strip_title(fk("ne_NP").name()).replace("श्री ", "") for _ in range(40)],
                list(provider("ne_NP", "address").cities),
                "ne_NP",
                None,
                "नेपाल",
            ),
            1,
        ),
        (
            Profile(
                "bn",
                False,
                [fk("bn_BD").name() for _ in range(40)],
                list(provider("bn_BD", "address").cities),
                None,
                None,
                "বাংলাদেশ",
            ),
            1,
        ),
        (
            Profile(
                "th",
                False,
                [fk("th_TH").name() for _ in range(40)],
                list(provider("th_TH", "address").cities),
                "th_TH",
                None,
                "ประเทศไทย",
            ),
            1,
        ),
    ]
    for key, (names, places, phone, iban) in cyr_sets.items():
        native, english = countries[key]
        profiles.append(
            (
                Profile(
                    f"{key}_lat",
                    True,
                    [translit(n, CYR) for n in names],
                    [translit(c, CYR) for c in places],
                    phone,
                    iban,
                    english,
                ),
                4 if key != "kk" else 2,
            )
        )
        profiles.append((Profile(key, False, names, places, phone, iban, native), 2 if key != "kk" else 1))
    return profiles


# --------------------------------------------------------------------------- values


def ssn(rng: random.Random, form: str) -> str:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    group, serial = rng.randint(1, 99), rng.randint(1, 9999)
    sep = {"dash": "-", "space": " ", "plain": ""}[form]
    return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"


def card(rng: random.Random) -> str:
    kind = rng.choice(["visa", "visa", "mc", "mc2", "amex", "disc"])
    if kind == "amex":
        number = luhn_complete(rng.choice(["34", "37"]), 15, rng)
        groups = [number[:4], number[4:10], number[10:]]
    else:
        prefix = {
            "visa": "4",
            "mc": str(rng.randint(51, 55)),
            "mc2": str(rng.randint(2221, 2720)),
            "disc": "6011",
        }[kind]
        number = luhn_complete(prefix, 16, rng)
        groups = [number[i : i + 4] for i in range(0, 16, 4)]
    sep = rng.choice(["", " ", " ", "-"])
    return sep.join(groups)


def iban(profile: Profile, rng: random.Random) -> str:
    value = fk(profile.iban_locale).iban()
    if rng.random() < 0.4:
        value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return value


def ip(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return fk("en_US").ipv6()
    return fk("en_US").ipv4_public() if rng.random() < 0.75 else fk("en_US").ipv4_private()


def ascii_name(name: str, profile: Profile) -> list[str]:
    if not profile.latin:
        for table in (CYR, GREEK, GEO):
            name = translit(name, table)
    words = [w for w in fold(name).lower().replace("-", " ").split() if w.isalpha() and w.isascii()]
    return words


def email(name: str, profile: Profile, rng: random.Random) -> str:
    words = ascii_name(name, profile)
    domain = rng.choice([*profile.domains, fk("en_US").free_email_domain(), fk("en_US").domain_name()])
    if len(words) < 2:
        local = fk("en_US").user_name()
    else:
        first, last = words[0], words[-1]
        local = rng.choice(
            [
                f"{first}.{last}",
                f"{first}{last}{rng.randint(1, 99)}",
                f"{first[0]}.{last}",
                f"{last}_{first}",
                f"{first}{rng.randint(1970, 2005)}",
            ]
        )
    return f"{local}@{domain}"


# --------------------------------------------------------------------------- templates

# Slots: P/P2 full name, F first name only, L surname only, C/C2 town, CO country,
# E e-mail (of P), PH phone, SSN separated, SSNP unseparated (always with a cue word),
# CC card, IBAN, IP.  Lower-case slots are fillers, not entities.
PII_TEMPLATES = [
    "Hi, I need to change the delivery address on order {order}. It should go to {P} in {C} instead.",
    "Can you draft a polite reminder to {P} about the unpaid invoice? Her email is {E}.",
    "{P} called again about the broken dishwasher, call back on {PH} before {time}.",
    "New hire paperwork: {P}, SSN {SSN}, starts {day} at the {C} office.",
    "please update my card on file to {CC}, the old one expired",
    "The payment bounced. Beneficiary: {P}, IBAN {IBAN}. Can you check the account number format?",
    "We keep seeing failed logins from {IP} on the admin panel. Should I block it?",
    "Booking for 2 adults, lead guest {P}, flying into {C} on {day}. Contact: {E}",
    "hey {F}, are you still coming to the standup or should we start without you",
    "Summarise this for me: Dr. {L} said the MRI results from {C} look fine and {F} can resume training.",
    "My social security number is {SSNP}, why does the form keep rejecting it?",
    "Transfer {amount} EUR to {IBAN} (account holder {P}) with reference {order}.",
    "{P} from {C} wants a quote for {n} licenses of {product}. Phone {PH}, email {E}.",
    "Could you translate this sentence: my name is {P} and I live in {C}.",
    "Patient {P}, born in {C}, appointment moved to {day} {time}. Reach her at {PH}.",
    "Ticket {order}: customer {P} says the parcel was left at a neighbour's house in {C}.",
    "Write a LinkedIn recommendation for {P}, who led our {product} rollout across {CO}.",
    "Is this a valid card number? {CC}",
    "Reminder: parents' evening on {day}. {P}'s mother asked to be called on {PH}.",
    "I forgot which server is prod. Is it {IP} or the one {F} set up last week?",
    "Sales note: met {P} (procurement) in {C}, very interested, follow up at {E}.",
    "The school trip to {C} needs a signed form from every parent. {F} hasn't returned hers yet.",
    "Please reimburse my taxi in {C}. Paid with card {CC}, receipt attached.",
    "HR question: {P} wants to switch her pension payments to IBAN {IBAN}, what form does she need?",
    "Fix this SQL: SELECT * FROM users WHERE email = '{E}' AND city = '{C}'",
    "{P} is out sick today, can someone cover the {time} call with the client in {C}?",
    "Our contractor {P} needs a W-9. His SSN is {SSN} and he's based in {C}.",
    "Flight change request for passenger {P}: {C} to {C2}, same date please.",
    "who is the account manager for the {C} region? the client {P} keeps emailing {E}",
    "Write a birthday message for my colleague {F}, she just moved to {C}.",
    "Delivery failed twice. Recipient {P}, phone {PH}, address in {C}. Can you reschedule?",
    "The VPN assigns me {IP} but I can't reach the file share. Any idea?",
    "Thanks {P}! I've forwarded your CV to the hiring team in {C}.",
    "Applicant {P} listed social security {SSNP} on the loan form, please verify it.",
    "Customer disputes a charge on card ending {CC}; name on card {P}.",
    "Can you rewrite this more formally: yo {F}, send me the slides from {C} asap",
    "Please add {P} ({E}) to the {product} beta list.",
    "Our landlord {P} wants the rent paid to {IBAN} from next month.",
    "I met {P} at the conference in {C}, what is a good follow-up email?",
    "Emergency contact for {P}: {P2}, {PH}.",
    "The dentist in {C} needs my SSN ({SSN}) for the insurance claim, is that normal?",
    "Log excerpt: 403 from {IP} user={E} path=/api/export",
    "Move {F}'s one-on-one to {day}, she's travelling to {C} on the morning train.",
    "Invoice should be addressed to {P}, {C}, {CO}.",
    "Hi team, {P} will be joining us from the {C} branch next month.",
    "Can you check if the card {CC} expiring 09/28 is Visa or Mastercard?",
    "Student {P} in class {n}B was absent all week; the family is in {C} for a funeral.",
    "{P} asked me to send the contract to {E} and cc {P2}.",
    "Set up a call with {P} ({PH}) and {P2} about the {C} warehouse lease.",
    "Driver could not find the address in {C}. Customer {P} doesn't answer {PH}.",
    "Why does the payroll system reject IBAN {IBAN} for employee {P}?",
    "Plan a 3 day itinerary in {C} for me and {F}, we like museums and food.",
    "Whitelist {IP} for {P}'s team, they work from the {C} office.",
    "tax form asks for SSN, I typed {SSN}, does that look right?",
    "Message from {P}: 'running late, stuck in traffic outside {C}, call me on {PH}'",
    "Pharmacy note: prescription for {P}, pick-up in {C} on {day}.",
    "Please cancel the hotel in {C} booked under {P}; card used was {CC}.",
    "Candidate {P} lives in {C} and is open to relocating to {CO}.",
    "Could you check the spelling of this name for the certificate: {P}",
    "Ask {F} whether the {C} shipment cleared customs; her number is {PH}.",
]

CLEAN_TEMPLATES = [
    "Will the {product} update ship before the end of {month}?",
    "May I ask how to export a chart from {product} as a PNG?",
    "Can you explain what a Turkish Delight is made of?",
    "Grace period for the invoice is {n} days, right?",
    "Bill me quarterly instead of monthly from now on.",
    "What's the difference between a Manhattan and an Old Fashioned?",
    "Is Stockholm syndrome a real medical diagnosis?",
    "How do I cite a website in Chicago style?",
    "Should I use the Oxford comma in a formal report?",
    "Write a product description for our new {product} coffee grinder.",
    "Run `git rebase -i HEAD~{n}` and squash the fixup commits.",
    "Why does df.groupby('region').sum() drop my string columns?",
    "The {product} API returns HTTP 429 after {n} requests, how do I back off?",
    "Ticket INC-{order} is still open, any update from the vendor?",
    "Our Q{q} targets look ambitious, can you sanity check the numbers?",
    "What is the best way to store Brussels sprouts so they stay fresh?",
    "Give me a recipe for Bolognese sauce that serves {n}.",
    "Is a Panama hat good for a beach holiday?",
    "Summarise the key points of the Geneva Conventions in plain English.",
    "Can I wear Converse to an office interview?",
    "The Amazon delivery window says {time} to {time2}, is that normal?",
    "How many calories are in a Big Mac?",
    "Please review PR #{n}{n} before the release freeze on {day}.",
    "What does ASAP, FYI and EOD mean in office emails?",
    "Our NPS dropped {n} points in {month}, what could explain it?",
    "Explain the Monte Carlo method like I'm twelve.",
    "Is Java or Python better for a first programming course?",
    "Will the new season of Severance be on Apple TV?",
    "Add a Hollywood-style happy ending to this short story.",
    "Is Champagne always sparkling, or is there a still version?",
    "Are Frankfurters and Vienna sausages the same thing?",
    "I need a Chrome extension that blocks YouTube Shorts.",
    "Order {order} arrived damaged, can I get a replacement?",
    "Meeting moved to {day} {time}, same Zoom link.",
    "How do I turn on dark mode in Outlook?",
    "The Swiss cheese model of safety, can you explain it?",
    "Is Peking duck the same as Cantonese roast duck?",
    "Rewrite this: our Tesla fleet needs new tyres before winter.",
    "What are good Easter activities for a school with {n} pupils?",
    "Hi, my Dell XPS won't charge past {n} percent, any tips?",
    "Grace under pressure: give me three interview answers that show it.",
    "Can you convert {n} miles per hour to km/h?",
    "Set a reminder: renew the SSL certificate on {day}.",
    "Is it rude to reply-all to the CEO?",
    "Why does my Kubernetes pod restart every {n} minutes?",
    "Do I need a visa for a layover? My ticket is on Emirates.",
    "What's a good name for a Labrador puppy?",
    "The May bank holiday falls on {day} this year, right?",
    "Bill of materials for the prototype is attached, version {n}.{q}.",
    "Suggest a team lunch place that serves vegan Thai food.",
]

PRODUCTS = [
    "Notion",
    "Figma",
    "Slack",
    "Jira",
    "Stripe",
    "Salesforce",
    "Zendesk",
    "Atlas",
    "Polaris",
    "Nimbus",
    "Orion",
    "Aurora",
    "Phoenix",
    "Vega",
    "Sierra",
    "Everest",
    "Tundra",
    "Comet",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "next Monday", "the 14th", "tomorrow"]
MONTHS = ["March", "April", "May", "June", "August", "October"]
TIMES = ["9:30", "10am", "11:15", "2 pm", "14:00", "4:45pm", "17:30"]


def filler(slot: str, rng: random.Random) -> str:
    return {
        "order": lambda: f"{rng.choice(['', 'A', 'SK-', '#'])}{rng.randint(10000, 99999)}",
        "time": lambda: rng.choice(TIMES),
        "time2": lambda: rng.choice(TIMES),
        "day": lambda: rng.choice(DAYS),
        "month": lambda: rng.choice(MONTHS),
        "product": lambda: rng.choice(PRODUCTS),
        "n": lambda: str(rng.randint(2, 12)),
        "q": lambda: str(rng.randint(1, 4)),
        "amount": lambda: f"{rng.randint(50, 9000)}.{rng.randint(0, 99):02d}",
    }[slot]()


NEEDS = {"PH": "phone_locale", "IBAN": "iban_locale"}


def pick_profile(template: str, profiles, rng: random.Random) -> Profile:
    pool = [p for p, _ in profiles]
    weights = [w for _, w in profiles]
    while True:
        profile = rng.choices(pool, weights)[0]
        if all(getattr(profile, attr) for slot, attr in NEEDS.items() if "{" + slot + "}" in template):
            return profile


def maker(profile: Profile, rng: random.Random):
    name = rng.choice(profile.names)
    name2 = rng.choice([n for n in profile.names if n != name])
    city = rng.choice(profile.cities)
    city2 = rng.choice([c for c in profile.cities if c != city] or profile.cities)
    words = name.split()

    def make(slot: str) -> tuple[str, str | None]:
        if slot == "P":
            return "PERSON", name
        if slot == "P2":
            return "PERSON", name2
        if slot == "F":
            # Vietnamese, Chinese, Korean, Japanese and Hungarian-style order: given name last.
            given_last = profile.key in {"vi", "vi_ascii", "zh", "ko", "ja"}
            return "PERSON", words[-1] if given_last else words[0]
        if slot == "L":
            given_last = profile.key in {"vi", "vi_ascii", "zh", "ko", "ja"}
            other = name2.split()
            return "PERSON", other[0] if given_last else other[-1]
        if slot == "C":
            return "LOCATION", city
        if slot == "C2":
            return "LOCATION", city2
        if slot == "CO":
            return "LOCATION", profile.country
        if slot == "E":
            return "EMAIL_ADDRESS", email(name, profile, rng)
        if slot == "PH":
            return "PHONE_NUMBER", fk(profile.phone_locale).phone_number()
        if slot == "SSN":
            return "US_SSN", ssn(rng, rng.choice(["dash", "dash", "space"]))
        if slot == "SSNP":
            return "US_SSN", ssn(rng, "plain")
        if slot == "CC":
            return "CREDIT_CARD", card(rng)
        if slot == "IBAN":
            return "IBAN_CODE", iban(profile, rng)
        if slot == "IP":
            return "IP_ADDRESS", ip(rng)
        return None, filler(slot, rng)

    return make


# --------------------------------------------------------------------------- styles

EMOJI = ["🙂", "🙏", "😅", "👍", "🚀", "😩", "✅", "🤔", "📦", "🎉"]
PUNCT = (set(string.punctuation) - {"'"}) | {"¿", "¡", "…", "‘", "“", "”"}  # noqa: RUF001


KEEP = {"social", "security", "ssn"}


def typo(word: str, rng: random.Random) -> str:
    # Cue words for unseparated numbers stay intact.
    if len(word) < 4 or not word.isalpha() or word.lower() in KEEP or rng.random() > 0.2:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["swap", "drop", "double"])
    if kind == "swap":
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


STYLES = {
    "plain": lambda t, e, r: t,
    "lower": lambda t, e, r: t.lower(),
    "upper": lambda t, e, r: t.upper(),
    "nopunct": lambda t, e, r: t if e else "".join(ch for ch in t if ch not in PUNCT),
    "spaces": lambda t, e, r: (
        t if e else "".join(ch * r.choice([1, 1, 2, 3]) if ch == " " else ch for ch in t)
    ),
    "typos": lambda t, e, r: t if e else " ".join(typo(w, r) for w in t.split(" ")),
    "emoji": lambda t, e, r: (
        t
        if e
        else "".join(ch + (" " + r.choice(EMOJI) if ch in ".!?" and r.random() < 0.5 else "") for ch in t)
    ),
}
STYLE_WEIGHTS = {"plain": 35, "lower": 15, "upper": 8, "nopunct": 10, "spaces": 10, "typos": 12, "emoji": 10}


def styled(parts, rng: random.Random) -> dict[str, object]:
    name = rng.choices(list(STYLE_WEIGHTS), list(STYLE_WEIGHTS.values()))[0]
    row = assemble(parts, STYLES[name], rng)
    if name == "emoji":
        row["text"] = str(row["text"]).rstrip() + " " + rng.choice(EMOJI)
    if name == "nopunct":
        row["text"] = str(row["text"]).rstrip()
    return row


def main() -> None:
    rng = random.Random(SEED)
    profiles = build_profiles()
    rows = []
    order = (PII_TEMPLATES * (N_PII // len(PII_TEMPLATES) + 1))[:N_PII]
    rng.shuffle(order)
    for template in order:
        profile = pick_profile(template, profiles, rng)
        row = styled(segments(template, maker(profile, rng)), rng)
        rows.append(row)
        SOURCES.append(profile.key)
    clean = (CLEAN_TEMPLATES * (N_CLEAN // len(CLEAN_TEMPLATES) + 1))[:N_CLEAN]
    for template in clean:
        row = styled(segments(template, lambda slot: (None, filler(slot, rng))), rng)
        rows.append(row)
    rng.shuffle(rows)
    write_jsonl(OUT, rows)
    print(f"wrote {len(rows)} rows to {OUT.name}")


if __name__ == "__main__":
    main()

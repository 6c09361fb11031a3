"""Generate tests/data/pii_dev2.jsonl: the second development set (issue 15, round 2).

Built because the rules had been tuned on pii_dev.jsonl until its figures met the targets
while the held-out set still missed them. Everything differs from the other sets:

* names, places and phones come from Faker locales that no other set uses (New Zealand,
  Canada, Philippines, Kenya, Argentina, Chile, Québec, Swiss French/German/Italian,
  Croatia, Hungary, Slovakia, Slovenia, Lithuania, Turkey, Indonesia, Norway);
* hand-written chat situations: forwarded e-mails, signatures, bullet lists, quoted
  replies, tickets, markdown, shouting, Title Case, no punctuation, emoji, lower case;
* 380 of the 840 messages are clean and built to provoke false positives: capitalised
  product names, weekdays, months, job titles, words that are also given names ("Will",
  "May", "Bill", "Grace"), languages and code identifiers, and 80 everyday questions to an
  assistant (films, sights, food, science) written by hand.

The guard's rules may be tuned on this set (see docs/guard.md, "Evaluation"). Deterministic
(fixed seed; Faker pinned in the ``data`` extra):

    .venv/bin/python tests/data/make_pii_dev2.py     # rewrites pii_dev2.jsonl
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from evalkit import Segment, assemble, luhn_complete, segments, write_jsonl  # the script's folder
from faker import Faker

SEED = 20261203
OUT = Path(__file__).with_name("pii_dev2.jsonl")
LOCALES = [
    "en_NZ", "en_CA", "en_PH", "en_KE", "es_AR", "es_CL", "fr_CA", "fr_CH", "de_CH", "hr_HR",
    "hu_HU", "sk_SK", "sl_SI", "lt_LT", "tr_TR", "id_ID", "no_NO",
]  # fmt: skip
# Faker invents towns in many locales ("West Davidmouth", "Brahier-sur-Gubéran",
# "Kristinsjøen"): places come only from locales that draw from a list of real towns
# (Hungarian through its real-town method), countries from the English list.
CITY_LOCALES = ["es_AR", "es_CL", "de_CH", "hr_HR", "sk_SK", "sl_SI", "id_ID", "hu_HU"]
PHONE_LOCALES = [
    "en_NZ", "en_CA", "fr_CH", "de_CH", "hu_HU", "sk_SK", "tr_TR", "no_NO", "es_AR", "es_CL",
    "sl_SI", "hr_HR",
]  # fmt: skip
IBAN_LOCALES = ["de_CH", "fr_CH", "hr_HR", "hu_HU", "sk_SK", "sl_SI", "lt_LT", "tr_TR", "no_NO"]

PII_TEMPLATES = [
    "---------- Forwarded message ---------\nFrom: {PERSON} <{EMAIL_ADDRESS}>\nDate: Tue, 3 Mar\n"
    "Subject: Re: Q2 pricing\n\nsee below, can you draft a reply?",
    "Best regards,\n{PERSON}\nSenior Account Manager | {LOCATION}\nm: {PHONE_NUMBER}",
    "action items:\n- {PERSON}: send the deck\n- {PERSON}: book the venue in {LOCATION}\n"
    "- everyone: review by Friday",
    "> {PERSON} wrote:\n> the shipment leaves {LOCATION} on Monday\ncan you confirm the date?",
    "ticket #4412 reporter {PERSON} says the app crashes on login, device IP {IP_ADDRESS}",
    "can u check why {PERSON}'s payment failed? card {CREDIT_CARD}",
    "ok so {PERSON} is out sick today, {PERSON} covers the front desk",
    "{PERSON} 👋 are you joining the retro?",
    "did {PERSON} ever reply about the {LOCATION} lease",
    "moving {PERSON} to the platform team from next sprint",
    "onboarding checklist for {PERSON}: laptop, badge, payroll (SSN {US_SSN})",
    "social security number {US_SSN} belongs to our new contractor",
    "ssn# {US_SSN} please verify",
    "the SS number on file is {US_SSN}, name {PERSON}",
    "wire it to {IBAN_CODE} (account holder {PERSON}, {LOCATION})",
    "reimburse {PERSON} via IBAN {IBAN_CODE} pls",
    "text {PERSON} at {PHONE_NUMBER} when the truck arrives",
    "cell: {PHONE_NUMBER}",
    "contact number {PHONE_NUMBER} (landline, {LOCATION})",
    "my wife {PERSON} will pick up the keys, her mobile is {PHONE_NUMBER}",
    "headcount in {LOCATION} is 14, {PERSON} is the site lead",
    "flight to {LOCATION} via {LOCATION}, passenger {PERSON}",
    "Write a reference letter for {PERSON}, who worked with us in {LOCATION} for three years.",
    "PLEASE CALL {PERSON} BACK ABOUT THE INVOICE",
    "{PERSON} said the {LOCATION} warehouse is closed until further notice",
    "shoutout to {PERSON} for fixing the build 🎉",
    "i sent the contract to {EMAIL_ADDRESS} but {PERSON} never got it",
    "interview panel: {PERSON}, {PERSON} and me. candidate lives in {LOCATION}",
    "the VPN logs show {IP_ADDRESS} connecting as {PERSON} at 03:12",
    '"{PERSON}" is the name on the card {CREDIT_CARD}',
    "Hello, my name is {PERSON}, I'm based in {LOCATION} and my number is {PHONE_NUMBER}",
    "can someone from {LOCATION} cover for {PERSON} next week",
    "{PERSON} ({LOCATION}) - approved\n{PERSON} ({LOCATION}) - pending",
    "pls add {PERSON} {EMAIL_ADDRESS} to the mailing list",
    "we met {PERSON} at the conference in {LOCATION} last year",
    "Dear {PERSON},\n\nThank you for your application. We will be in touch.\n\nKind regards",
    "Employee: {PERSON}\nSSN: {US_SSN}\nAddress: {LOCATION}",
    "he's from {LOCATION} originally, {PERSON} I mean",
    "Summarise this complaint from {PERSON}: the parcel to {LOCATION} arrived damaged.",
    "who is {PERSON}? they keep emailing {EMAIL_ADDRESS}",
]

# Clean messages: the lower-case slots are filled from the lists below (no entity).
CLEAN_TEMPLATES = [
    "{weekday} standup: {product} migration is done, {title} to review the rollout",
    "Can {product} export to {product}? The {title} asked on {weekday}.",
    "will the {month} release include the {product} integration",
    "May we schedule the {product} training for {month}?",
    "Bill the {product} licences to cost centre 4410 in {month}.",
    "The {title} will present the {product} roadmap on {weekday}.",
    "what's the difference between {lang} and {lang} for a CLI tool",
    "rename `{ident}` to `{ident}` in the {product} adapter",
    "TypeError in {ident}(): expected str, got None",
    "{weekday} is a holiday, the {title} moved the sync to {weekday}",
    "Grace period for {product} trials is 14 days, then billing starts.",
    "Mark the {product} ticket as done and notify the {title}.",
    "HAPPY {weekday}!! DON'T FORGET THE {product} DEMO",
    "our {title} wants a one-pager on {product} vs {product} by {month}",
    "Rose Gold and Space Grey are both out of stock until {month}.",
    "Hope the {product} outage is fixed before {weekday} 🙏",
    "Faith in the {product} team is low after {month}'s incident.",
    "Summer interns start in {month}; the {title} needs laptops for them.",
    "set {ident}=true and restart the {product} worker",
    "Explain {product} to a {title} in two sentences.",
    "Jack up the timeout on the {product} health check to 30s",
    "Frank feedback please: is the {product} dashboard useful?",
    "The {title} from Sales asked for the {month} numbers.",
    "Chase the {product} renewal before the end of {month}.",
    "Does {lang} have pattern matching like {lang}?",
    "Victory! The {product} migration finished on {weekday}.",
    "Angel investors want the {month} metrics in the deck.",
    "Ruby on Rails or {lang} for the new admin panel?",
    "Golden Gate, Blue Ridge and Red Rock are the names of our meeting rooms.",
    "- {product}\n- {product}\n- {product}\nwhich of these do we actually pay for?",
    "Subject: {product} renewal\n\nHi team, the quote is attached. Thanks!",
    "i asked the {title} and they said {weekday} works",
    "Jordan 1s or Air Max for the team shoes lol",
    "Price per seat: $12 on Basic, $29 on Pro, $59 on Enterprise.",
    "Can you write a SQL query joining Orders and Customers on customer_id?",
    "Patch Tuesday broke {product} again",
    "READ THE {product} DOCS BEFORE ASKING",
    "The Director of Engineering and the Head of People meet every {weekday}.",
    "new laptop policy: MacBook Pro for engineers, ThinkPad for everyone else",
    "Amber alert on the {product} dashboard: p95 latency over 800 ms",
    "The Lead Designer shared a Figma file called Final Final v3.",
    "Dawn patrol deploys at 6am are banned from {month} on.",
    "We celebrate Diwali, Christmas and Eid in the office calendar.",
    "## Summary\n- Nice work on the {product} cut-over\n- Reading list for {month} is in the wiki",
    "Morning all! Cheers for the quick turnaround on the {product} bug.",
    "see https://docs.example.com/{ident}/setup and /var/log/{ident}.log",
    "@channel the {product} bot is down again #incident",
    "Split the bill for the team lunch? Mobile app or cash",
    "Best,\nThe {product} Team",
    "Deal Desk approved the discount for the Enterprise tier",
    "Quick Favour: Could You Review The {product} Proposal Before {weekday}?",
    "New Feature Request: Dark Mode For The {product} Dashboard",
    "Bath, Nice and Reading are on the list of words our spell checker flags",
    "Lead Time For Changes Went Down In {month}",
    "Story points: Carry Over 5, Done 21, Blocked 3",
    "Can we Sunset the {product} integration before {month}?",
    "Happy Birthday to the {product} project, 5 years old today!",
    "Green build, Red build: the {product} status page colours are swapped",
]
# Everyday questions to an assistant, each once: films, places as topics, food, science.
ASSISTANT_QUESTIONS = [
    "Can you explain the difference between a Roth IRA and a 401(k)?",
    "Write a cover letter for a Senior Data Analyst role at a fintech startup.",
    "What's a good recipe for Pad Thai without peanuts?",
    "Summarize the plot of Pride and Prejudice in three sentences.",
    "Convert this CSV to JSON and sort by the Amount column.",
    "The Marketing Ops channel is too noisy, can we mute the bot?",
    "Is Black Friday or Cyber Monday better for the launch?",
    "Our Net Promoter Score dropped after the pricing change.",
    "Please rewrite the Terms of Service section about refunds.",
    "Who won the Champions League in 2019?",
    "Draft a LinkedIn post celebrating our Series B.",
    "The Customer Success team needs a new onboarding checklist.",
    "Explain Big O notation with an example in Java.",
    "What is the capital gains tax on crypto?",
    "Give me 10 name ideas for a coffee shop.",
    'Translate "Thank you for your patience" into Portuguese and Italian.',
    "How do I set up Two-Factor Authentication on the admin console?",
    "The Quarterly Business Review deck needs a Risks slide.",
    "Write a limerick about Kubernetes pods crashing.",
    "Our Code of Conduct needs a section on remote work.",
    "What does the Fed rate hike mean for mortgages?",
    "I need a SQL query for Monthly Active Users by country.",
    "Make the Submit button larger and change the font to Inter.",
    "Is Earl Grey or English Breakfast stronger?",
    "Schedule a Lunch and Learn about Accessibility for next month.",
    "The Help Center article on Returns is outdated.",
    "Compare the Pixel 8 and the Galaxy S24 cameras.",
    "Can you make this email sound less passive-aggressive?",
    "The Holiday Party budget is approved, venue TBD.",
    "Write unit tests for the Invoice class using pytest.",
    "What are the symptoms of Lyme disease?",
    "The Wi-Fi in Meeting Room B keeps dropping.",
    "Recommend three books like The Martian.",
    "How many calories are in a Big Mac?",
    "Please format the Table of Contents with page numbers.",
    "Set the Status field to Closed Won for the renewal.",
    "Write a product description for Noise Cancelling Headphones.",
    "Explain the Pythagorean theorem to a ten year old.",
    "Our Style Guide says to use Oxford commas.",
    "The Sprint Review is moved, the Demo Day stays on schedule.",
    "What time does the Apple Store open on Sundays?",
    "Recommend a hiking trail near the Grand Canyon.",
    "Who directed The Godfather?",
    "Explain how the Electoral College works.",
    "Write a toast for a wedding, short and funny.",
    "Is the Mediterranean diet good for cholesterol?",
    "Help me plan a road trip along Route 66.",
    "What are the rules of cricket in simple terms?",
    "How do I cook a Sunday roast for six people?",
    "Summarise the French Revolution for a school essay.",
    "Translate this menu from Spanish: Pollo Asado, Ensalada Mixta, Flan.",
    "What's the best way to learn the Piano as an adult?",
    "Compare Netflix and Disney Plus for kids content.",
    "Explain the Monty Hall problem.",
    "How long should I boil an egg for a runny yolk?",
    "What's the difference between Baroque and Renaissance music?",
    "Write a haiku about the Northern Lights.",
    "Give me a workout plan for a Half Marathon.",
    "Why is the Dead Sea so salty?",
    "Suggest names for a golden retriever puppy.",
    "What does the Bank of England base rate do?",
    "How do Olympic judges score Gymnastics?",
    "List the planets in order from the Sun.",
    "Which is older, Stonehenge or the Pyramids?",
    "Explain the Krebs cycle simply.",
    "What's a good gift for a Secret Santa under 20 pounds?",
    "How do I get red wine out of a white carpet?",
    "Plan a three day trip itinerary with museums and food.",
    "What's the plot of Hamlet?",
    "Tips for a job interview at a Big Four firm?",
    "Is it safe to eat raw cookie dough?",
    "Which Premier League team has the most titles?",
    "How does the Doppler effect work?",
    "Create a shopping list for Thanksgiving dinner.",
    "Describe the Mona Lisa to someone who can't see it.",
    "What is Newton's third law?",
    "How do I reset a Nest thermostat?",
    "Can dogs eat Greek yogurt?",
    "Write a bedtime story about a dragon named Sparkle.",
    "Who painted The Starry Night?",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]  # fmt: skip
PRODUCTS = [
    "Salesforce", "HubSpot", "Zendesk", "Jira", "Confluence", "Notion", "Slack", "Teams", "Zoom",
    "Figma", "Miro", "Asana", "Trello", "Workday", "ServiceNow", "Snowflake", "BigQuery", "Tableau",
    "Looker", "Grafana", "Prometheus", "Kibana", "Elasticsearch", "Terraform", "Ansible", "Jenkins",
    "GitLab", "Bitbucket", "Heroku", "Netlify", "Vercel", "Stripe", "Adyen", "Twilio", "SendGrid",
    "Mailchimp", "Okta", "Auth0", "Sentry", "PagerDuty", "Airflow", "Dagster", "Databricks",
    "Redshift", "DynamoDB", "Cassandra", "MongoDB", "Redis", "RabbitMQ", "Celery", "Kubernetes",
    "Helm", "Argo CD", "Power BI", "SharePoint", "OneDrive", "Dropbox", "Box", "Outlook", "Gmail",
]  # fmt: skip
TITLES = [
    "CFO", "VP of Sales", "Product Manager", "Head of Marketing", "Engineering Manager",
    "Chief of Staff", "Office Manager", "Data Scientist", "Staff Engineer", "Scrum Master",
    "Account Executive", "General Counsel", "Creative Director", "Team Lead", "HR Business Partner",
]  # fmt: skip
LANGS = ["Python", "Rust", "Go", "Kotlin", "Swift", "Julia", "Elixir", "Crystal", "Dart", "Scala",
         "Haskell", "Perl", "Ruby", "Clojure", "Nim", "Zig"]  # fmt: skip
IDENTS = ["getUserName", "first_name", "parse_address", "CustomerRecord", "send_email", "ownerId",
          "is_admin", "PhoneValidator", "billing_city", "load_config", "retry_count",
          "AccountHolder"]  # fmt: skip
CLEAN_SLOTS = {
    "weekday": WEEKDAYS,
    "month": MONTHS,
    "product": PRODUCTS,
    "title": TITLES,
    "lang": LANGS,
    "ident": IDENTS,
}
OPENERS = ["", "", "", "", "hey ", "Hi all, ", "quick q: ", "FYI: ", "re: ", "fwd: "]
EMOJI = ["🙂", "🙏", "👍", "🔥", "😅", "✅", "👀"]
_PUNCT = re.compile(r"[.,!?;:()\"]")


class Maker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        every = sorted({*LOCALES, *CITY_LOCALES, *PHONE_LOCALES, *IBAN_LOCALES})
        self.fakers = {loc: Faker(loc) for loc in every}
        for index, faker in enumerate(self.fakers.values()):
            faker.seed_instance(SEED + index)

    def faker(self, locales: list[str]) -> Faker:
        return self.fakers[self.rng.choice(locales)]

    def __call__(self, slot: str) -> tuple[str, str]:
        return slot, getattr(self, slot.lower())()

    def person(self) -> str:
        f = self.faker(LOCALES)
        first, last = f.first_name(), f.last_name()
        roll = self.rng.random()
        if roll < 0.45:
            return f"{first} {last}"
        if roll < 0.8:
            return first
        if roll < 0.9:
            return f"{self.rng.choice(['Mr', 'Ms', 'Dr', 'Mrs.', 'Prof.'])} {last}"
        return last if self.rng.random() < 0.5 else f"{last}, {first}"

    def location(self) -> str:
        if self.rng.random() < 0.75:
            faker = self.faker(CITY_LOCALES)
            return str(faker.real_city_name() if faker is self.fakers["hu_HU"] else faker.city())
        return str(self.fakers["en_NZ"].country())

    def email_address(self) -> str:
        return str(self.faker(LOCALES).email())

    def phone_number(self) -> str:
        return str(self.faker(PHONE_LOCALES).phone_number())

    def us_ssn(self) -> str:
        # Only numbers the SSA could issue: area 001-899 but 666, group 01-99, serial 0001-9999.
        area = self.rng.choice([a for a in range(1, 900) if a != 666])
        digits = f"{area:03d}{self.rng.randint(1, 99):02d}{self.rng.randint(1, 9999):04d}"
        a, b, c = digits[:3], digits[3:5], digits[5:]
        return self.rng.choice([f"{a}-{b}-{c}", digits, digits, f"{a} {b} {c}", f"{a}-{b}-{c}"])

    def credit_card(self) -> str:
        prefix, length = self.rng.choice([("4", 16), ("51", 16), ("37", 15), ("6011", 16), ("35", 16)])
        number = luhn_complete(prefix, length, self.rng)
        if length == 16 and self.rng.random() < 0.5:
            return " ".join(number[i : i + 4] for i in range(0, 16, 4))
        return number

    def iban_code(self) -> str:
        value = str(self.faker(IBAN_LOCALES).iban())
        if self.rng.random() < 0.3:
            return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        return value

    def ip_address(self) -> str:
        f = self.fakers["en_NZ"]
        return str(f.ipv4_public() if self.rng.random() < 0.75 else f.ipv6())


def style_for(rng: random.Random):  # type: ignore[no-untyped-def]
    kind = rng.choices(
        ["plain", "lower", "upper", "nopunct", "emoji", "lowernopunct", "title"],
        [0.33, 0.24, 0.11, 0.09, 0.08, 0.08, 0.07],
    )[0]

    def style(value: str, entity: str | None, r: random.Random) -> str:
        if kind in ("lower", "lowernopunct"):
            value = value.lower()
        if kind == "upper":
            value = value.upper()
        if kind == "title":  # a subject line: every word capitalised
            value = " ".join(w[:1].upper() + w[1:] for w in value.split(" "))
        if kind in ("nopunct", "lowernopunct") and entity is None:
            value = _PUNCT.sub("", value)
        if kind == "emoji" and entity is None and r.random() < 0.4:
            value = value if value.endswith(" ") else f"{value} {r.choice(EMOJI)}"
        return value

    return style


def fill_clean(template: str, rng: random.Random) -> str:
    return re.sub(r"\{([a-z]+)\}", lambda m: rng.choice(CLEAN_SLOTS[m.group(1)]), template)


def main() -> None:
    rng = random.Random(SEED)
    maker = Maker(rng)
    rows = []
    for _ in range(460):
        template = rng.choice(OPENERS) + rng.choice(PII_TEMPLATES)
        parts: list[Segment] = segments(template, maker)
        rows.append(assemble(parts, style_for(rng), rng))
    for _ in range(300):
        text = rng.choice(OPENERS) + fill_clean(rng.choice(CLEAN_TEMPLATES), rng)
        rows.append(assemble([(text, None)], style_for(rng), rng))
    for question in ASSISTANT_QUESTIONS:
        rows.append(assemble([(question, None)], style_for(rng), rng))
    rng.shuffle(rows)
    write_jsonl(OUT, rows)


if __name__ == "__main__":
    main()

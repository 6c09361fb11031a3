"""Each pattern recognizer on its own: what it must find and what it must leave alone."""

from __future__ import annotations

import pytest
from presidio_analyzer import EntityRecognizer

from guard.recognizers.checksums import card_brand_ok, iban_ok, luhn_ok, ssn_ok
from guard.recognizers.patterns import (
    IbanRecognizer,
    card_recognizer,
    email_recognizer,
    ip_recognizer,
    ssn_recognizer,
)
from guard.recognizers.phones import PhoneRecognizer


def found(recognizer: EntityRecognizer, text: str) -> list[str]:
    # Several rules of one recognizer may find the same span; the detector merges them.
    values = [text[r.start : r.end] for r in recognizer.analyze(text, recognizer.supported_entities, None)]
    return sorted(set(values), key=text.index)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail john.doe@example.com now", ["john.doe@example.com"]),
        ("USER@EXAMPLE.COM", ["USER@EXAMPLE.COM"]),
        ("to a.b+tag@mail.example.co.uk.", ["a.b+tag@mail.example.co.uk"]),
        ("user@münchen.de", ["user@münchen.de"]),
        ("user@example is not complete", []),
        ("@mention and a@b", []),
    ],
)
def test_email(text: str, expected: list[str]) -> None:
    assert found(email_recognizer(), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call 555-123-4567 today", ["555-123-4567"]),
        ("(212) 555-0100", ["(212) 555-0100"]),
        ("Fax: 555.123.4567", ["555.123.4567"]),
        ("+1 555-123-4567", ["+1 555-123-4567"]),
        ("UK: +44 20 7946 0958", ["+44 20 7946 0958"]),
        ("Phone number is 5551234567", ["5551234567"]),
        ("order 5551234567 shipped", []),  # bare digits need a phone word
        ("Best regards,\nAna\nm: 07 731 5495", ["07 731 5495"]),  # a signature's one-letter label
        ("Ana\nm 0425-742 9478", ["0425-742 9478"]),
        ("item m 0425742947 in stock", []),  # without the colon only at a line start
        ("SSN 123-45-6789", []),
        ("on 2024-11-03 at 12:34:56", []),
        ("server 192.168.1.100", []),
        ("card 4111 1111 1111 1111", []),
        ("product code 123-456-789", []),
        ("Tracking ID: 555-ABC-1234", []),
        # International numbers, any region phonenumbers knows, with or without a phone word.
        ("reach me at +91 98765 43210", ["+91 98765 43210"]),
        ("+44(0)20 74960791 is the desk", ["+44(0)20 74960791"]),
        ("fyi 0049 30 901820", ["0049 30 901820"]),
        ("call +1-982-647-0512x41539 now", ["+1-982-647-0512x41539"]),
        # National formats: a French number by its shape; bare digits after a phone word.
        ("mobile 01 40 01 23 06", ["01 40 01 23 06"]),
        ("ask 01 40 01 23 06", ["01 40 01 23 06"]),
        ("phone 7046788817", ["7046788817"]),
        ("PHONE: 07009 12374", ["07009 12374"]),
        ("her cell is 5191.4322.", ["5191.4322"]),
        ("my number is 001-669-386-1729 if", ["001-669-386-1729"]),
        ("tel. (02)02019207", ["(02)02019207"]),
        ("You can reach me on 06202595872 after 6pm.", ["06202595872"]),
        ("Her cell is (04063) 69187.", ["(04063) 69187"]),
        ("telefon 0171 2345678", ["0171 2345678"]),
        # ... but not other numbers, even next to a phone word.
        ("call me on 04/11/1982", []),
        ("invoice number is 2024-118-7731", []),
        ("SKU 4006381333931 out of stock", []),
        ("phone 1234", []),
        ("call 0000000000", []),
        ("ping 10.20.30.40 from the phone", []),
        ("058 7789328 is the office line", ["058 7789328"]),  # the phone word after the number
        ("0614 61 00 33 (mobile)", ["0614 61 00 33"]),
        ("contact: 612-31-00", ["612-31-00"]),  # three digits first: no date
        ("1234567 is the order number", []),
        ("see line 1234567 in the log", []),
        ("тел. 612 31 00 44", ["612 31 00 44"]),  # phone words of other scripts
        ("電話: 080-4701-7468", ["080-4701-7468"]),
        ("📞 070 459 79 19", ["070 459 79 19"]),  # the phone emoji
        ("txt me 050-895-06-99", ["050-895-06-99"]),
        ("the number is 051-725-59-44", ["051-725-59-44"]),
        ("the order number is 1234567", []),
    ],
)
def test_phone(text: str, expected: list[str]) -> None:
    assert found(PhoneRecognizer(), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Visa 4111 1111 1111 1111", ["4111 1111 1111 1111"]),
        ("MC 5425-2334-3010-9903", ["5425-2334-3010-9903"]),
        ("Mastercard 2-series 2221000000000009", ["2221000000000009"]),
        ("Amex 3782-822463-10005", ["3782-822463-10005"]),
        ("Discover 6011000990139424", ["6011000990139424"]),
        ("bad Luhn 4111111111111112", []),
        ("serial 4532-1234-ABCD-9999", []),
        ("account 1234567890123456", []),  # no network issues cards starting with 1
        ("JCB 15 digits 213197556213137", ["213197556213137"]),
        ("maestro 6759649826438453", ["6759649826438453"]),
        ("card ending 3597-5562-1313-2396", ["3597-5562-1313-2396"]),  # unknown range, but "card"
        ("ref 3597-5562-1313-2396", []),  # the same digits without a card word
    ],
)
def test_card(text: str, expected: list[str]) -> None:
    assert found(card_recognizer(), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SSN 123-45-6789", ["123-45-6789"]),
        ("The SSN 123456789 needs checking", ["123456789"]),
        ("order 123456789 shipped", []),
        ("invalid 000-12-3456 and 123-00-4567 and 666-12-3456", []),
        ("product 123-456-789", []),
        ("social security number 123456789", ["123456789"]),
        ("SOCIAL SECURITY NUMBER 123 45 6789", ["123 45 6789"]),
        ("she gave 525642146 as social security no.", ["525642146"]),
        ("ssn on file: 123.45.6789", ["123.45.6789"]),
        ("dotted 550.25.8841 even without a word", ["550.25.8841"]),
        ("an IP 10.25.88.41 is not one", []),
        ("my SSN is 123456789.", ["123456789"]),  # a full stop ends the sentence
        ("ssn 123 45 6789.", ["123 45 6789"]),
        ("ssn 123456789.5", []),  # a decimal is something else
        ("the SS number on file is 409283260", ["409283260"]),
        ("SSN-123456789", ["123456789"]),
        ("ss# 123456789", ["123456789"]),
        ("ssn 123 456 789", ["123 456 789"]),
        ("order 12-123456789 and 123 456 789", []),
        ("my social security number, which payroll asked for twice, is 123456789", ["123456789"]),
        ("SSN (as printed on the card, please double-check): 123 - 45 - 6789", ["123 - 45 - 6789"]),
        ("ssn of the new hire on the form: 123.45 6789", ["123.45 6789"]),
        ("ssn done.\nticket 123456789 closed", []),  # another line
        ("our social media campaign for the autumn launch reached 123456789 views", []),
        ("row: ada obi, 207 - 71 - 1346, lagos", ["207 - 71 - 1346"]),  # loose hyphens, no word
        ("check 318462097 against her W-2", ["318462097"]),  # a form that carries one
        ("ss  no 633 81 3944 for the tax form", ["633 81 3944"]),  # doubled space in the word
        ("invoice 318462097 is overdue", []),
        ("SSN318462097 on the form", ["318462097"]),  # glued to the word
        ("SSN: 31846-2097", ["31846-2097"]),  # five and four, right after the word
        ("ssn on file; ship to 94107-1234", []),  # a ZIP+4 code further on
    ],
)
def test_ssn(text: str, expected: list[str]) -> None:
    assert found(ssn_recognizer(), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IBAN DE89 3704 0044 0532 0130 00 OK", ["DE89 3704 0044 0532 0130 00"]),
        ("pay GB82WEST12345698765432.", ["GB82WEST12345698765432"]),
        ("bad DE89 3704 0044 0532 0130 01", []),
        ("word DE12 ABCD", []),
    ],
)
def test_iban(text: str, expected: list[str]) -> None:
    assert found(IbanRecognizer(), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("host 10.0.0.5.", ["10.0.0.5"]),
        ("http://192.168.1.50:8080/api", ["192.168.1.50"]),
        ("v6 2001:0db8:85a3:0000:0000:8a2e:0370:7334", ["2001:0db8:85a3:0000:0000:8a2e:0370:7334"]),
        ("compressed 2001:db8::8a2e:370:7334 and fe80::1", ["2001:db8::8a2e:370:7334", "fe80::1"]),
        ("mapped ::ffff:192.0.2.1", ["::ffff:192.0.2.1"]),
        ("Version 1.2.3.4 and version number: 2.3.4.5", []),
        ("time 12:34:56 ratio 16:9 std::vector", []),
        ("not an ip 999.1.1.1 or 192.168.001.100", []),
        ("mac 00:1A:2B:3C:4D:5E", []),
    ],
)
def test_ip(text: str, expected: list[str]) -> None:
    assert found(ip_recognizer(), text) == expected


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert card_brand_ok("2720990000000007") and not card_brand_ok("2721000000000000")
    assert iban_ok("de89 3704 0044 0532 0130 00") and not iban_ok("DE89370400440532013001")
    assert ssn_ok("987654321") and not ssn_ok("111111111")

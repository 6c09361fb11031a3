"""Each pattern recognizer on its own: what it must find and what it must leave alone."""

from __future__ import annotations

import pytest

from guard.recognizers.checksums import card_brand_ok, iban_ok, luhn_ok, ssn_ok
from guard.recognizers.patterns import (
    IbanRecognizer,
    RegexRecognizer,
    card_recognizer,
    email_recognizer,
    ip_recognizer,
    phone_recognizer,
    ssn_recognizer,
)


def found(recognizer: RegexRecognizer, text: str) -> list[str]:
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
        ("SSN 123-45-6789", []),
        ("on 2024-11-03 at 12:34:56", []),
        ("server 192.168.1.100", []),
        ("card 4111 1111 1111 1111", []),
        ("product code 123-456-789", []),
        ("Tracking ID: 555-ABC-1234", []),
    ],
)
def test_phone(text: str, expected: list[str]) -> None:
    assert found(phone_recognizer(), text) == expected


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

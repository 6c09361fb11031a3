"""Checksums and validity rules that turn digit patterns into confident detections."""

from __future__ import annotations

import ipaddress

# IBAN lengths per country (ISO 13616 registry) for the countries we expect to see; an
# unknown country falls back to the mod-97 check alone.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AT": 20, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GI": 23, "GL": 18, "GR": 27, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IS": 26, "IT": 27, "KW": 30, "KZ": 20, "LB": 28, "LI": 21,
    "LT": 20, "LU": 20, "LV": 21, "MC": 27, "ME": 22, "MT": 31, "NL": 18, "NO": 15,
    "PL": 28, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "TR": 26, "UA": 29,
}  # fmt: skip


def digits_only(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def luhn_ok(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = ord(char) - 48
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


_MAESTRO = ("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763")


def card_brand_ok(number: str) -> bool:
    """Issuer prefix and length: Visa, Mastercard (51-55 and 2221-2720), Amex, Discover,
    JCB (35, and 1800/2131 with 15 digits), Diners, UnionPay, Maestro. Rejects Luhn-valid digit
    runs that no network issues."""
    length = len(number)
    two, four = int(number[:2]), int(number[:4])
    if number[0] == "4":
        return length in (13, 16, 19)
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return length == 16
    if two in (34, 37):
        return length == 15
    if number.startswith(("6011", "65")) or 644 <= int(number[:3]) <= 649:
        return 16 <= length <= 19
    if 3528 <= four <= 3589:
        return 16 <= length <= 19
    if number.startswith(("1800", "2131")):
        return length == 15  # JCB's older 15-digit range
    if number.startswith(_MAESTRO) or 56 <= two <= 58:
        return 12 <= length <= 19
    if two in (36, 38, 39) or 300 <= int(number[:3]) <= 305:
        return 14 <= length <= 19
    if two == 62:
        return 16 <= length <= 19
    return False


def iban_ok(candidate: str) -> bool:
    iban = candidate.replace(" ", "").upper()
    expected = IBAN_LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        return False
    if not 15 <= len(iban) <= 34:
        return False
    rearranged = iban[4:] + iban[:4]
    # Letters become 10..35; int() on the digit string is exact for 34-char IBANs.
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


def ssn_ok(number: str) -> bool:
    """SSA rules that are never issued: area 000/666, group 00, serial 0000, one repeated
    digit. Area 9xx (ITIN range) is kept: still a tax identifier worth hiding."""
    area, group, serial = number[:3], number[3:5], number[5:]
    if area in ("000", "666") or group == "00" or serial == "0000":
        return False
    return len(set(number)) > 1


def ip_ok(candidate: str) -> bool:
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True

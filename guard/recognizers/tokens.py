"""The words of a text that may be names or places, with their offsets.

A word glued to "@", "/", "_", "\\" or a digit is part of an e-mail address, a handle, a
path or an identifier ("mattia18@example.com", "@channel", "/var/log/ana"): no name.
"""

from __future__ import annotations

import re

Word = tuple[int, int, str]  # start, end, the word as written

WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")  # O'Brien, O\u2019Brien, Smith-Jones
NAME_WORD = re.compile(r"(?<![\w@/\\])" + WORD.pattern + r"(?![\w@/\\])")
LAST_WORD = re.compile(r"(?<![\w@/\\])([^\W\d_]+) $")  # the word right before an offset
# Lower-case words inside a name: "Ludwig van Beethoven", "Vila Franca de Xira".
PARTICLES = frozenset(
    {"van", "von", "de", "der", "den", "da", "di", "du", "la", "le", "del", "dos", "ter", "ten"}
)
_POSSESSIVE = ("'s", "\u2019s", "'S", "\u2019S")


def words(text: str) -> list[Word]:
    """The words that may be names, a possessive 's cut off ("Mrs. İnönü's payment")."""
    found = []
    for match in NAME_WORD.finditer(text):
        start, end = match.span()
        word = match.group()
        if word[-2:] in _POSSESSIVE and len(word) > 3:
            word, end = word[:-2], end - 2
        found.append((start, end, word))
    return found

"""A cased view of chat text, so capitalisation means the same thing in every style.

The name and place rules, and spaCy's NER even more, read a capital letter as evidence:
in "we met Sarah in Lyon" it is. In "we met sarah in lyon" and in "WE MET SARAH IN LYON"
the writer's case says nothing, and the small model finds nothing (or, in capitals, an
organisation in every word). Detection therefore runs on a view of the text where:

* a sentence written in capitals, or in Title Case (every word capitalised, "Can You
  Book A Table For Two"), is put in lower case, except its known names and places;
* a word written in lower case that is a known, unambiguous name or place ("sarah",
  "lyon": words people write capitalised, per ``guard.data``) gets its capital, and so
  does a *foreign* word, one of no language the lists know ("wamwema": see
  ``Gazetteer.foreign``), which people would have capitalised too;
* a run of words in capitals inside an ordinary sentence ("tell KOFI MENSAH the truck is
  late", "employee: ADA OBI") is a name written the way forms and tickets write them when
  one of its words is a known, unambiguous name or a foreign word of six letters or more:
  the run is title-cased (function words lowered). A run without such a word is an
  acronym or shouting ("the AWS bill", "GDPR", "URGENT") and stays as written.

Everything else is left as written. The view has the same length as the text (only
characters whose other case has the same length change), so offsets need no mapping.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from guard.chunking import SENTENCE_END

_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
# Two or more letters in capitals, words joined by single spaces or hyphens: "KOFI MENSAH".
_CAPS_RUN = re.compile(r"(?<![\w@/\\])[^\W\d_a-z]{2,}(?:['\u2019 -][^\W\d_a-z]{2,})*(?![\w@/\\])")
_MIN_FOREIGN_IN_CAPITALS = 6  # "SOMTOCHUKWU" in capitals is a name; "GDPR", "HIPAA" acronyms
_MIN_SHOUT_LETTERS = 4  # "OK" or "FYI" alone is an acronym, not a shouted sentence
# Words a title-cased sentence capitalises and ordinary prose does not.
_FUNCTION_WORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "for",
        "to",
        "of",
        "in",
        "on",
        "at",
        "by",
        "with",
        "from",
        "about",
        "into",
        "over",
        "as",
        "is",
        "are",
        "was",
        "be",
        "can",
        "could",
        "will",
        "would",
        "should",
        "may",
        "might",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "you",
        "your",
        "my",
        "our",
        "their",
        "it",
        "this",
        "that",
    }
)


def _shouted(sentence: str) -> bool:
    return not any(ch.islower() for ch in sentence) and sum(ch.isalpha() for ch in sentence) >= (
        _MIN_SHOUT_LETTERS
    )


def _title_case(words: list[str]) -> bool:
    """Every word capitalised, function words included: the case carries no information."""
    if len(words) < 4:
        return False
    capitalised = [w for w in words if w[0].isupper()]
    function = [w for w in words if w.lower() in _FUNCTION_WORDS]
    return (
        len(function) >= 2 and all(w[0].isupper() for w in function) and len(capitalised) >= 0.8 * len(words)
    )


class Truecaser:
    """``proper(word)``: the lower-cased word is a name or place people write capitalised;
    ``foreign_among(words)``: those of the lower-cased words that are no English word and
    no known name either."""

    def __init__(
        self,
        proper: Callable[[str], bool],
        foreign_among: Callable[[Iterable[str]], set[str]] = lambda words: set(),
    ) -> None:
        self._proper = proper
        self._foreign_among = foreign_among

    def __call__(self, text: str) -> str:
        if not any(ch.isalpha() for ch in text):
            return text
        pieces: list[str] = []
        start = 0
        for cut in SENTENCE_END.finditer(text):
            pieces.append(self._sentence(text[start : cut.end()]))
            start = cut.end()
        pieces.append(self._sentence(text[start:]))
        view = "".join(pieces)
        return view if len(view) == len(text) else text

    def _sentence(self, sentence: str) -> str:
        words = _WORD.findall(sentence)
        shouted = _shouted(sentence) or _title_case(words)
        foreign = self._foreign_among(w.lower() for w in words if shouted or w.islower() or w.isupper())
        if (
            not shouted
            and not foreign
            and not any(
                (w.islower() and self._proper(w)) or (w.isupper() and self._proper(w.lower())) for w in words
            )
        ):
            return sentence  # the common case: nothing to change
        if not shouted:
            sentence = _CAPS_RUN.sub(lambda m: self._caps_run(m, foreign), sentence)
        return _WORD.sub(lambda m: self._word(m.group(), shouted, foreign), sentence)

    def _caps_run(self, match: re.Match[str], foreign: set[str]) -> str:
        """A name in capitals inside an ordinary sentence, title-cased; anything else as is."""
        run = match.group()
        words = _WORD.findall(run)
        if not all(w.isupper() for w in words) or not any(self._name_like(w.lower(), foreign) for w in words):
            return run  # "the AWS bill", "see the README"
        cased = _WORD.sub(lambda m: self._title(m.group()), run)
        return cased if len(cased) == len(run) else run

    def _name_like(self, low: str, foreign: set[str]) -> bool:
        """A known name, or a long word of no language the lists know (acronyms are short:
        "GDPR", "HIPAA")."""
        return self._proper(low) or (len(low) >= _MIN_FOREIGN_IN_CAPITALS and low in foreign)

    @staticmethod
    def _title(word: str) -> str:
        low = word.lower()
        return low if low in _FUNCTION_WORDS else low.title()  # "Doe-Smith", "O'Brien"

    def _word(self, word: str, shouted: bool, foreign: set[str]) -> str:
        low = word.lower()
        if len(low) != len(word):
            return word
        if (shouted or word == low) and (self._proper(low) or low in foreign):
            cased = low[:1].upper() + low[1:]
            return cased if len(cased) == len(word) else word
        return low if shouted else word

"""Which parts of a text are worth running NER on.

spaCy's NER is ~90% of the guard's cost, and its answers are only kept when they start
with a capital letter (``SpacyNerRecognizer._plausible``): lower-case names are the
gazetteer's job. A sentence whose only capital is its first word, and that word is not a
known name or place, cannot yield a kept entity (a lone unknown capitalised word at a
sentence start is dropped too), so NER skips it. Chat prose is mostly such sentences.

Adjacent candidate sentences stay together so the model keeps its context; the CNN sees
four tokens either side, so a skipped neighbour changes little, and the evaluation set
(``skein guard eval``) is the check that it changes nothing that matters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from guard.chunking import SENTENCE_END

# The pronoun "I" (and I'm, I'll, I've, I'd) is capitalised everywhere and names nobody.
_PRONOUN_I = re.compile(r"(?<![\w'\u2019])I(?:['\u2019][a-z]{1,2})?(?![\w'\u2019])")
_LETTERS = re.compile(r"[^\W\d_]+")

Span = tuple[int, int]


class NerScope:
    """Character ranges of a text that NER must see; ``known`` says whether a lower-cased
    word is a first name, surname or place (so a capitalised first word may be one);
    ``foreign`` whether a lower-case word is no English word at all: the cased view
    (``guard.casing``) capitalises it, and the model is the one that can tell a name
    ("remind Dainess Otieno") from anything else."""

    def __init__(
        self,
        known: Callable[[str], bool],
        foreign_among: Callable[[Iterable[str]], set[str]] = lambda words: set(),
    ) -> None:
        self._known = known
        self._foreign_among = foreign_among

    def spans(self, text: str) -> list[Span]:
        if text == text.lower() and not self._has_foreign(text):
            return []  # no capital letter and no foreign word: the common case for chat turns
        merged: list[Span] = []
        for start, end in _sentences(text):
            if not self._needs_ner(text[start:end]):
                continue
            if merged and _only_space_between(text, merged[-1][1], start):
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        return merged

    def _has_foreign(self, text: str) -> bool:
        return bool(self._foreign_among(w for w in _LETTERS.findall(text) if w.islower()))

    def _needs_ner(self, sentence: str) -> bool:
        if self._has_foreign(sentence):
            return True
        first, _, rest = sentence.partition(" ")
        rest = _PRONOUN_I.sub("", rest)
        if rest != rest.lower():
            return True  # a capital past the first word: a possible name, place or org
        word = _LETTERS.search(first)
        if word is None or word.group() == word.group().lower():
            return False
        # "JOHN:" or "McKay" is more than a capitalised first letter.
        tail = word.group()[1:]
        low = word.group().lower()
        return tail != tail.lower() or self._known(low) or bool(self._foreign_among((low,)))


def _sentences(text: str) -> list[Span]:
    spans: list[Span] = []
    start = 0
    for cut in SENTENCE_END.finditer(text):
        if cut.start() > start:
            spans.append((start, cut.start()))
        start = cut.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _only_space_between(text: str, end: int, start: int) -> bool:
    return not text[end:start].strip()

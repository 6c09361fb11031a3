"""Person rules over the word lists: given names, surnames, titles, labels, chat cues.

The small spaCy model finds capitalised names in well-formed prose but misses lower-case
names ("ask sarah about it") and many first-name-only mentions, which are common in chat.
A known given name that is nothing else is a person; one that is also an English word
("will", "grace") needs a capital, a surname or a cue; titles ("Dr."), labels ("Name:")
and cues ("thanks", "ask", "@") also accept unknown words.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult

from guard.recognizers import cues
from guard.recognizers.gazetteer import ENGLISH_SUFFIXES, Gazetteer
from guard.recognizers.tokens import PARTICLES, Word

_CONTRACTION = re.compile(r"['\u2019](?:s|re|ll|ve|d|m|t)$")
MAX_NAME_WORDS = 4
# "@Thabisile", "@nyuki mutai": a mention, not an e-mail address or a handle with digits.
_MENTION = re.compile(r"(?<![\w@.])@([^\W\d_]{2,})(?: ([^\W\d_]{2,}))?(?![\w@.-])")


class PeopleRules:
    def __init__(self, gazetteer: Gazetteer) -> None:
        self._gaz = gazetteer

    def find(self, text: str, words: list[Word]) -> list[RecognizerResult]:
        results = []
        everyday = self._gaz.everyday
        index = 0
        while index < len(words):
            word = words[index][2]
            if word.islower() and word in everyday:
                index += 1  # no rule makes a lower-case everyday word start a name: skip the checks
                continue
            found = self._person_at(text, words, index)
            if found is None:
                index += 1
                continue
            last, score = found
            if not cues.attributive_after(text, words[last][1]):  # not "Caesar salad"
                results.append(RecognizerResult("PERSON", words[index][0], words[last][1], score))
            index = last + 1
        return results

    def mentions(self, text: str) -> list[RecognizerResult]:
        """A chat mention of a person: "@Thabisile", "@nyuki mutai". Only a given name or a
        word of no language the lists know; "@here", "@channel", "@devops" are no people."""
        results = []
        for match in _MENTION.finditer(text):
            first, second = match.group(1), match.group(2)
            low = first.lower()
            if low in self._gaz.never or not (self._name_word(low) or self._gaz.foreign(low)):
                continue
            end = match.end(1)
            if second and (self._surname_word(second.lower()) or self._gaz.foreign(second.lower())):
                end = match.end(2)
            results.append(RecognizerResult("PERSON", match.start(1), end, 0.7))
        return results

    def _surname_word(self, low: str) -> bool:
        return low in self._gaz.surnames and self._gaz.strength(low) == 2 and low not in self._gaz.everyday

    def _name_word(self, low: str) -> bool:
        return (
            low in self._gaz.first_names and low not in self._gaz.ordinary and low not in self._gaz.products
        )

    def _person_at(self, text: str, words: list[Word], i: int) -> tuple[int, float] | None:
        start, _, word = words[i]
        low, capital = word.lower(), word[0].isupper()
        if (word.isupper() and len(word) > 1) or low in self._gaz.never or _CONTRACTION.search(low):
            return None  # an acronym (shouted sentences arrive in lower case: guard.casing)
        if self._after_title(text, words, i) and (capital or low not in self._gaz.everyday):
            # "Dr. Wheeler" (not the town), "mr. meister", "Mrs. van der Brink"
            return self._extend(text, words, i, capital=True), 0.9
        if low in self._gaz.not_cued_name_words:
            return None  # a function word ("Is", "And") never starts a name
        # After a label an everyday word is a name only if it is also a given name:
        # "Name: Will", not "a file called Final".
        if cues.label_before(text, start) and (
            low not in self._gaz.everyday or (capital and low in self._gaz.first_names)
        ):
            return self._extend(text, words, i, capital=capital), 0.85  # "Name: X", "i am puk"
        if low not in self._gaz.first_names:
            if cues.strong_place_before(text, start):
                return None  # "the parcel to Horní Bříza", "lives in Vejby": a place
            if self._before_surname(text, words, i) or self._cued(text, words, i, capital):
                return self._extend(text, words, i, capital), 0.6
            return None
        last = self._extend(text, words, i, capital)
        if not (
            self._enough_evidence(text, words, i, last) or self._followed_by_cue(text, words[last][1], low)
        ):
            return None
        if last > i:
            # A given name and a known surname ("Brandon Sutton") outrank a town named Sutton.
            return last, 0.9 if words[last][2].lower() in self._gaz.surnames else 0.8
        return last, 0.65 if capital else 0.55

    def _followed_by_cue(self, text: str, end: int, low: str) -> bool:
        """ "add austin garza ana@x.org", "austin said": even a given name that is also a word."""
        return low not in self._gaz.never and (
            cues.email_after(text, end) or cues.speaker_after(text, end) or cues.owner_after(text, end)
        )

    def _enough_evidence(self, text: str, words: list[Word], i: int, last: int) -> bool:
        """A known first name alone is a person if it is nothing else; a word that is also
        an everyday word or a major place needs a surname, a capital or a cue."""
        start, _, word = words[i]
        low, capital = word.lower(), word[0].isupper()
        strength = self._gaz.strength(low)
        followed = last > i and self._gaz.strength(words[i + 1][2].lower()) > 0
        if cues.determiner_before(text, start):
            return False  # "the Asana project", "the Monty Hall problem": a thing, not a person
        if strength == 0:  # "Will Smith", not "New Relic"
            surname = words[i + 1][2].lower() if last > i else ""
            if surname not in self._gaz.surnames or surname in self._gaz.everyday:
                return False
            if capital:
                return self._gaz.strength(surname) == 2
            # Lower case or shouted: a cue and a surname ("who is luz milagros", "ask will smith").
            return self._gaz.strength(surname) > 0 and cues.person_before(text, start)
        if strength == 1:
            if last > i and self._gaz.strength(words[i + 1][2].lower()) == 0:
                return False  # "Rose Gold", "Red Rock": a capitalised phrase, not a name
            if cues.place_before(text, start) and not followed:
                return False  # "left in June", "expect 2000 in April"
            after_start = cues.sentence_start(text, start)
            # A surname that is nothing but a name ("amber burke", shouted "AMBER BURKE")
            # is evidence in any case; "rose gold" has none.
            surname = words[last][2].lower() if last > i else ""
            strong_surname = surname in self._gaz.surnames and self._gaz.plain(surname)
            return (
                (capital and (followed or not after_start))
                or (not capital and cues.person_before(text, start))
                or (strong_surname and surname not in self._gaz.major_locations)
            )
        if low in self._gaz.major_locations and last == i and low not in self._gaz.common_first_names:
            return cues.person_before(text, start)
        return True

    def _surname_like(self, low: str) -> bool:
        """A lower-case word after a lower-case first name that is probably its surname:
        not a function word, not a verb-looking word, not a place."""
        if (
            len(low) < 3
            or low in self._gaz.not_cued_name_words
            or low in self._gaz.everyday
            or low in self._gaz.verbs_after_names
            or low in self._gaz.locations
        ):
            return False
        if low in self._gaz.first_names:
            return False  # "ask emma and david" lists two people
        # The suffixes of English verbs, plurals and nouns; a known surname or a word with
        # accents ("cárdenas") is no English word.
        return low in self._gaz.surnames or not low.isascii() or not low.endswith(ENGLISH_SUFFIXES)

    def _before_surname(self, text: str, words: list[Word], i: int) -> bool:
        """An unknown given name followed by a known surname: "Priyanka Smith", "siobhan kowalski"."""
        if i + 1 >= len(words) or text[words[i][1] : words[i + 1][0]] != " ":
            return False
        word, nxt = words[i][2], words[i + 1][2]
        low, next_low = word.lower(), nxt.lower()
        if (
            low in self._gaz.not_cued_name_words
            or low in self._gaz.not_name_words
            or low in self._gaz.everyday
            or len(low) < 3
            or low in self._gaz.locations
        ):
            return False
        if next_low not in self._gaz.surnames or self._gaz.strength(next_low) < 2:
            return False
        return word[0].isupper() == nxt[0].isupper()

    def _cued(self, text: str, words: list[Word], i: int, capital: bool) -> bool:
        """An unknown word after "thanks", "ask", "text" ... (lower case: the model finds
        capitalised ones), or right before an e-mail address ("add Terézia ana@x.org") or
        a verb of saying ("martaka utama said", "> Ana Ruiz wrote:")."""
        start, end, word = words[i]
        if not self._surname_like(word.lower()):
            return False
        # A cue after the word is weaker evidence: not "not json ann@x.org", "the api said".
        if self._gaz.strength(word.lower()) == 2 and (
            cues.email_after(text, end)
            or cues.speaker_after(text, end)
            or (word.lower() not in self._gaz.products and cues.owner_after(text, end))
            or (self._gaz.foreign(word.lower()) and cues.person_predicate_after(text, end))
        ):
            return True
        nxt = words[i + 1] if i + 1 < len(words) else None
        two_words = (
            nxt is not None
            and text[end : nxt[0]] == " "
            and nxt[2][0].isupper() == capital
            and self._surname_like(nxt[2].lower())
            and self._gaz.strength(nxt[2].lower()) == 2
            and (
                cues.email_after(text, nxt[1])
                or cues.speaker_after(text, nxt[1])
                or (self._gaz.foreign(nxt[2].lower()) and cues.person_predicate_after(text, nxt[1]))
            )
        )
        # A capitalised word after a cue is usually found by the model; where it is not
        # ("Best regards,\nGélinas") it must be no word of any English kind.
        cued = cues.person_before(text, start) and (not capital or self._gaz.strength(word.lower()) == 2)
        return two_words or cued

    def _after_title(self, text: str, words: list[Word], i: int) -> bool:
        if i == 0:
            return False
        _, prev_end, prev = words[i - 1]
        if prev.lower() not in cues.TITLES or text[prev_end : words[i][0]] not in (" ", ". ", "."):
            return False
        word = words[i][2]
        return word[0].isupper() or word.lower() not in self._gaz.not_cued_name_words or word in PARTICLES

    def _extend(self, text: str, words: list[Word], i: int, capital: bool) -> int:
        """Index of the last word of the name that starts at word ``i``."""
        last = i
        # Lower-case names get one more word at most: "david kim", not "david kim yesterday".
        limit = MAX_NAME_WORDS - 1 if capital else 1
        while last + 1 < len(words) and last - i < limit:
            start, _, nxt = words[last + 1]
            if text[words[last][1] : start] != " ":
                break
            low = nxt.lower()
            known = low in self._gaz.surnames
            titled = (
                capital and nxt[0].isupper() and not nxt.isupper() and low not in self._gaz.not_name_words
            )
            if (
                not (known or titled or (not capital and self._surname_like(low)))
                or low in self._gaz.not_name_words
                or (nxt.islower() and (low in self._gaz.not_cued_name_words or low in self._gaz.everyday))
            ):
                break
            last += 1
        return last

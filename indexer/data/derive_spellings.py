"""Derive ``spelling_variants.tsv`` (British spelling -> American spelling) from the SCOWL
word lists, and check the productive rules of :mod:`indexer.language` against them.

    apt-get download scowl && dpkg -x scowl_*.deb x
    python indexer/data/derive_spellings.py x/usr/share/dict/scowl

writes ``indexer/data/spelling_variants.tsv`` (``--output`` to write elsewhere) and prints
what a reviewer reads: the pairs left out (ambiguous, or excluded by :data:`EXCLUDED`), and
each productive rule with the SCOWL pairs that confirm it. It refuses to write when a
productive rule contradicts SCOWL.

SCOWL sorts each word into lists by spelling: ``british``, ``british_z`` and
``british_variant_*`` hold the British forms, ``american`` the American ones, and
``english`` the words spelt alike everywhere. A pair is made from a British form by
:data:`REWRITES` (our -> or, ae -> e, ll -> l before -ing/-ed...): kept only when the
result is an American or common word; where several results are, the American list
wins, then SCOWL's size level shared with the British form (SCOWL files a variant pair
under one level), then the fewest rewrites.

SCOWL files its largest levels' rare words (70 and above) as "english" without sorting
their spellings: "hypoglycaemia" (70), "oesophageal" (80) sit there beside the American
forms. Such a word is read as a British form too, but only when a rewrite makes it a word
of the ``american`` list itself.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from indexer import language

DEFAULT_OUTPUT = Path(__file__).with_name("spelling_variants.tsv")
BRITISH_LISTS = ("british", "british_z", "british_variant_1", "british_variant_2")
# SCOWL's levels up to 60 are its spell-checking sizes, where every spelling is sorted;
# above, "english" also holds unsorted British forms (see the module's docstring).
SORTED_LEVEL = 60
MAX_REWRITES = 3
# Short words meet unrelated ones by chance ("fourb" and "forb", "taegu" and "tegu"):
# they are paired only at SCOWL's spell-checking levels.
SHORT_WORD, SHORT_WORD_LEVEL = 5, SORTED_LEVEL
_WORD = re.compile(r"[a-z]+")

# Each rewrite is applied at one place at a time, up to MAX_REWRITES in a word; the
# contexts keep them off what is not a British spelling.
REWRITES: tuple[tuple[str, str], ...] = (
    # colour, tumour, neighbour: "our" after a syllable, not a word's own (pour, court,
    # unscoured, bourn)
    (
        r"(?:(?<=[aeiouy])|(?<=[aeiouy]\w)|(?<=[aeiouy]\w\w)|(?<=[aeiouy]\w{3}))(?<!sc)our(?!n)",
        "or",
    ),
    # haem, anaemia, paediatric; not the Latin plural (retinae), nor aer- (aerogenic)
    (r"(?<=.)ae(?!s?$)", "e"),
    (r"^ae(?!r)", "e"),
    # oestrogen, foetal, diarrhoea; not haloes, shoed, nor an "o" ending a combining form
    # before a stem in "e": hypoesthesia, pseudoembryo, neuroepithelium, chloroethylene
    (r"oe(?!s?$|d$|sth|mb|pi|th|ry|le|mi|xi)", "e"),
    (r"oeuvr", "euver"),  # manoeuvre, manoeuvring
    (r"(?<=[aeiou])ll(?=ing|ed|er|est|or|ous|en)", "l"),  # signalling, labelled, woollen
    (r"(?<=[aeiou])l(?=$|s$|ment|ful|ness)", "ll"),  # fulfil, enrolment, skilful
    (r"(?<=[a-z]{2})is(?=e|ing|ation|able|abl)", "iz"),  # localisation, organise
    (r"ys(?=e|ing|er|ation)", "yz"),  # analyse, catalysed, paralysing
    (r"(?<=[bcdghkmnpstv])re(?=$|s$)", "er"),  # centre, fibre, litre
    (r"(?<=[bcdghkmnpstv])r(?=ed$|ing$)", "er"),  # centred, centring
    (r"ogue(?=$|s$)", "og"),  # catalogue, analogue
    (r"ogu(?=ed$|ing$|er)", "og"),  # catalogued
    (r"(?<=[cfnt])ence(?=$|s$|d$|less|ing)", "ense"),  # defence, licence, pretence
    (r"^practis", "practic"),  # practise (the verb)
    (r"sulph", "sulf"),  # sulphur, sulphate
    (r"(?<=[gu])eing", "ing"),  # ageing, glueing
    (r"mme(?=$|s$)", "m"),  # programme, kilogramme
    (r"cheque(?=$|s$)", "check"),
    (r"chequ(?=er|ed|ing)", "check"),
    (r"oul(?=[dt])", "ol"),  # mould, moult, smoulder
    (r"xion", "ction"),  # connexion, inflexion
    (r"dgement", "dgment"),  # judgement
    (r"^grey", "gray"),
    (r"^haem(?=s?$)", "heme"),  # haem is heme (hem is another word)
    (r"^scep", "skep"),  # sceptic
    (r"^aluminium", "aluminum"),
    (r"artefact", "artifact"),
    (r"^yogh", "yog"),  # yoghurt
)
_REWRITES = tuple((re.compile(pattern), replacement) for pattern, replacement in REWRITES)
_ANY_REWRITE = re.compile("|".join(f"(?:{pattern})" for pattern, _ in REWRITES))

# Pairs the rewrites make that are not spellings of one word, found by reading the output
# (each a British form, the reason). The script says which of these no longer arise.
EXCLUDED: dict[str, str] = {
    "zoea": "a crab larva, not zea (maize)",
    "zoeas": "crab larvae, not zeas",
    "zooea": "zoea (a crab larva), not zea",
    "zooeas": "zoeas, not zeas",
    "zoaea": "zoea, not zea",
    "cooer": "one who coos",
    "bolled": "having bolls",
    "momme": "a unit of silk weight, not mom",
    "palaeoentomology": "paleoentomology; SCOWL has only paleentomology, which drops the o",
    "mandril": "a lathe spindle (mandrel), not the baboon mandrill",
    "mandrils": "lathe spindles, not mandrills",
    "diaene": "a sponge spicule, not a diene",
    "triaene": "a sponge spicule, not a triene",
    "coetus": "an assembly, not the constellation Cetus",
    "anoesis": "a-noesis: the oe of noesis, not a British oe",
    "anoetic": "a-noetic: the oe of noetic",
    "synoetic": "syn-noetic: the oe of noetic",
    "blennoemesis": "blenno-emesis: o and e of two stems",
    "phloeum": "bark, not the grass genus Phleum",
    "subaerate": "sub-aerate, not suberate",
    "fribourg": "a place",
    "oecus": "a Roman hall, not ecus",
    "reprised": "spelt so in American English; reprized is another word",
    "caesar": "a name, not cesar",
    "aeneid": "a title, not eneid",
    "loesses": "loess is spelt so in American English",
    "moellon": "rubble masonry, not mellon",
    "poetling": "poet-ling, not petling",
    "vetoer": "veto-er, not veter",
    "compoer": "compo-er",
    "koellia": "a plant genus",
    "deadrise": "dead-rise (of a hull), not an -ise verb",
    "weftwise": "weft-wise, not an -ise verb",
    "scapaed": "scapa-ed",
}

HEADER = """\
# about: British spellings -> American spellings, one pair a line, sorted; the British
#   form is lower-case and no American form is also a British one
# source: SCOWL (Spell Checker Oriented Word Lists) {version} by Kevin Atkinson,
#   http://wordlist.aspell.net/, as packaged in Debian's scowl package: the british,
#   british_z, british_variant_1/2 lists against the american and english lists
# licence: SCOWL's, which asks that this notice be kept: "Copyright 2000-2011 by Kevin
#   Atkinson. Permission to use, copy, modify, distribute and sell these word lists, the
#   associated scripts, the output created from the scripts, and its documentation for
#   any purpose is hereby granted without fee, provided that the above copyright notice
#   appears in all copies and that both that copyright notice and this permission notice
#   appear in supporting documentation. Kevin Atkinson makes no representations about the
#   suitability of this array for any purpose. It is provided "as is" without express or
#   implied warranty." (the sources SCOWL draws on are listed in its README and
#   copyright file; indexer/data/README.md names them)
# derived-by: indexer/data/derive_spellings.py (do not edit by hand)
british\tamerican
"""


@dataclass(frozen=True)
class WordLists:
    """Lower-case words of SCOWL with their smallest size level, by spelling."""

    british: dict[str, int]
    american: dict[str, int]
    english: dict[str, int]

    def american_or_common(self, word: str) -> bool:
        return word in self.american or word in self.english

    def protected(self, word: str) -> bool:
        """A word no rewrite may change: American, or common at a sorted level."""
        return word in self.american or self.english.get(word, 99) <= SORTED_LEVEL


def read_lists(folder: Path) -> WordLists:
    if not folder.is_dir():
        raise SystemExit(f"error: {folder}: no such folder (the SCOWL final/ lists)")

    def read(*categories: str) -> dict[str, int]:
        levels: dict[str, int] = {}
        for category in categories:
            for path in sorted(folder.glob(f"{category}-words.*")):
                level = int(path.suffix[1:])
                for word in path.read_text(encoding="utf-8").split():
                    if _WORD.fullmatch(word):
                        levels[word] = min(level, levels.get(word, level))
        if not levels:
            raise SystemExit(f"error: {folder}: no {categories[0]}-words.* lists")
        return levels

    return WordLists(read(*BRITISH_LISTS), read("american"), read("english"))


def rewritten(word: str) -> dict[str, int]:
    """Every spelling the rewrites make of ``word``, with the fewest rewrites needed."""
    found = {word: 0}
    frontier = [word]
    for step in range(1, MAX_REWRITES + 1):
        following = []
        for current in frontier:
            for pattern, replacement in _REWRITES:
                for match in pattern.finditer(current):
                    other = current[: match.start()] + replacement + current[match.end() :]
                    if other not in found:
                        found[other] = step
                        following.append(other)
        frontier = following
    del found[word]
    return found


def american_form(word: str, level: int, lists: WordLists) -> tuple[str | None, list[str]]:
    """The American form of a British one (None if none), and the ties that make it
    ambiguous."""
    ranked = []
    for other, steps in rewritten(word).items():
        if other in lists.american:
            ranked.append((0 if lists.american[other] == level else 1, steps, other))
        elif other in lists.english:
            ranked.append((2, steps, other))
    if not ranked:
        return None, []
    ranked.sort()
    best = ranked[0]
    ties = [other for rank, steps, other in ranked if (rank, steps) == best[:2]]
    return (best[2], []) if len(ties) == 1 else (None, ties)


def derive_pairs(lists: WordLists) -> tuple[dict[str, str], dict[str, list[str]]]:
    """British -> American pairs, and the British forms left out as ambiguous."""
    pairs: dict[str, str] = {}
    ambiguous: dict[str, list[str]] = {}
    sources = {w: n for w, n in lists.british.items() if not lists.american_or_common(w)}
    unsorted = {w: n for w, n in lists.english.items() if n > SORTED_LEVEL}
    for words, strict in ((sources, False), (unsorted, True)):
        for word, level in sorted(words.items()):
            if not _ANY_REWRITE.search(word):
                continue  # no rewrite applies (most words)
            american, ties = american_form(word, level, lists)
            if strict and american not in lists.american:
                continue  # common at an unsorted level, and no American form of its own
            if _noun_plural(word, lists) or (len(word) <= SHORT_WORD and level > SHORT_WORD_LEVEL):
                continue
            if ties:
                ambiguous[word] = ties
            elif american and word not in EXCLUDED:
                pairs[word] = american
    return pairs, ambiguous


def _noun_plural(word: str, lists: WordLists) -> bool:
    """A plural of a noun in -sis ("autolyses", of autolysis), spelt so everywhere, not
    the British verb of the same letters ("autolyses", it autolyzes)."""
    singular = word[:-2] + "is"
    return word.endswith("ses") and any(
        singular in words for words in (lists.british, lists.american, lists.english)
    )


def check_productive_rules(pairs: dict[str, str], lists: WordLists) -> list[str]:
    """What contradicts a productive rule of :mod:`indexer.language`: a word of a sorted
    American or common list that it changes, a pair that it rewrites where SCOWL does not
    (its result must be the American form, or lead to it by :data:`REWRITES`: the rule
    for "anaesthetise" leaves "-ise" to the table), a rule that fewer than two pairs
    confirm. Prints, for review, the pairs confirming each rule and the words of the
    unsorted levels that it changes."""
    problems = []
    any_rule = re.compile("|".join(f"(?:{r.pattern.pattern})" for r in language.PRODUCTIVE_RULES))
    touched_pairs = sorted((b, a) for b, a in pairs.items() if any_rule.search(b))
    others = sorted(
        w for w in {*lists.american, *lists.english} - pairs.keys() if any_rule.search(w)
    )
    for rule in language.PRODUCTIVE_RULES:
        confirmed = []
        for british, american in touched_pairs:
            if rule.pattern.search(british):
                result = rule.apply(british)
                if result != american and american not in rewritten(result):
                    problems.append(f"{rule}: {british} -> {result}, SCOWL: {american}")
                else:
                    confirmed.append(british)
        unsorted = []
        for word in others:
            if rule.pattern.search(word):
                if lists.protected(word):
                    problems.append(f"{rule}: changes the American word {word}")
                else:
                    unsorted.append(f"{word}->{rule.apply(word)}")
        if len(confirmed) < 2:
            problems.append(f"{rule}: confirmed by {len(confirmed)} SCOWL pairs, needs 2")
        print(f"rule {rule}: {len(confirmed)} pairs agree: {' '.join(confirmed)}")
        print(f"rule {rule}: changes {len(unsorted)} unsorted words: {' '.join(unsorted)}")
    return problems


def scowl_version(folder: Path) -> str:
    """SCOWL's version from the README that Debian installs beside the lists."""
    readme = folder.parent.parent / "doc" / "scowl" / "README.gz"
    if readme.is_file():
        with gzip.open(readme, "rt", encoding="utf-8", errors="replace") as text:
            for line in text:
                if line.startswith("Version "):
                    return line.split()[1]
    raise SystemExit(f"error: {readme}: not found; give SCOWL's version with --scowl-version")


def write_pairs(pairs: dict[str, str], version: str, output: Path) -> None:
    lines: Iterable[str] = (f"{b}\t{a}\n" for b, a in sorted(pairs.items()))
    output.write_text(HEADER.format(version=version) + "".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scowl", type=Path, help="folder of SCOWL's lists (.../dict/scowl)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--scowl-version", help="if the Debian README is not beside the lists")
    args = parser.parse_args(argv)
    version = args.scowl_version or scowl_version(args.scowl)
    lists = read_lists(args.scowl)
    pairs, ambiguous = derive_pairs(lists)
    for word, ties in sorted(ambiguous.items()):
        print(f"ambiguous, left out: {word} -> {' | '.join(ties)}")
    for word in sorted(EXCLUDED):
        if not american_form(word, lists.british.get(word, 0), lists)[0]:
            print(f"EXCLUDED, no longer made: {word}")
    problems = check_productive_rules(pairs, lists)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"error: {len(problems)} contradictions; nothing written", file=sys.stderr)
        return 1
    write_pairs(pairs, version, args.output)
    print(f"{args.output}: {len(pairs)} pairs (SCOWL {version})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

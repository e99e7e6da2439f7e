"""Synthetic PFOCR figure records that follow the real records' distributions.

Everything is learnt, at run time, from the bundled real sample ``sample_data/pfocr/*.md``
(214 CC0 records; see ``sample_data/README.md``); nothing outside the project is read.

Each synthetic record starts from a *template*: a real record drawn uniformly, which
brings the real proportion of the two schema generations, the real year distribution,
the real organism lists (plain strings, ``NA`` placeholders, ``organisms_ner``), the real
placeholders (``.na.character``, ``''``), figure numbers, figure types, journals, and the
real key order of each generation (including older records lacking ``figid_alias``).
The high-variance fields are then regenerated:

- ``caption``: the template's caption with about 15% of its sentences swapped for other
  real caption sentences, cut or filled to the template's length (so the real length
  distribution, word frequencies and repetition of words inside a caption, which sets the
  distinct terms per document and so the indexing cost, stay close to the real ones);
  about 2% of the words are replaced by synthetic words whose identities are drawn from
  an unbounded Zipf law, so the vocabulary keeps growing with the corpus size (Heaps' law),
  as a real corpus' does;
- ``figtitle`` / ``papertitle``: a real title with a fifth of its words resampled;
- ``genes`` (older generation): the gene count of the template (jittered); the genes are
  real printed-word groups (a printed word with every HGNC symbol it resolved to, so
  families such as ``PI3K`` expand as in the real data) drawn with a Zipf-like
  popularity; ``chemicals``/``diseases`` from the real entries;
- ``schema-jsonld.keywords``: genes + chemicals + diseases (older), or real keyword items
  drawn with Zipf-like popularity (newer), with the template's count;
- ids: unique ``figid`` ``PMC<digits>__<stem>``; about a third of the records are further
  figures of the previous record's paper (same pmcid, paper title, year), as in PFOCR.

Output: one ``<figid>.md`` per record (YAML front matter, like the real files) in
subfolders of 1,000 files, or one JSON Lines file. Deterministic for a given seed.

    python -m bench.synth --count 100000 --out bench/out/corpus-100000 [--seed 0] [--format md]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data" / "pfocr"
MANIFEST = ".synth.json"
FILES_PER_FOLDER = 1000
GENERATOR_VERSION = 2

MUTATION_RATE = 0.02  # share of caption/title words replaced by a synthetic word
NEW_WORD_ZIPF = 1.2  # exponent of the synthetic-word identity law (smaller: more new words)
KEEP_SENTENCE = 0.85  # share of a template caption's sentences kept in a synthetic caption
TITLE_RESAMPLE = 0.2  # share of a real title's words replaced by other real title words
KEEP_KEYWORD = 0.5  # share of a newer template's schema-jsonld.keywords kept
SAME_PAPER = 0.35  # chance that a record is another figure of the previous record's paper
POPULARITY_EXPONENT = 0.9  # Zipf exponent of gene / keyword popularity by rank
KEYWORD_EXPONENT = 0.5  # flatter for newer records' gene keywords (the real ones rarely repeat)
PLACEHOLDERS = frozenset({"", "NA", ".na.character"})

_Yaml = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


# --------------------------------------------------------------------------------------
# The model learnt from the real sample


@dataclass
class _Weighted:
    """Items with cumulative weights, for fast ``random.choices`` draws."""

    items: list[Any]
    cum: list[float]

    @classmethod
    def zipf_by_count(cls, counts: Counter, exponent: float = POPULARITY_EXPONENT) -> _Weighted:
        ranked = sorted(counts, key=lambda k: (-counts[k], str(k)))
        weights = [1.0 / (rank + 1) ** exponent for rank in range(len(ranked))]
        return cls(ranked, list(itertools.accumulate(weights)))

    def draw(self, rng: random.Random, k: int) -> list[Any]:
        return rng.choices(self.items, cum_weights=self.cum, k=k) if k > 0 else []

    def draw_unique(self, rng: random.Random, k: int) -> list[Any]:
        """Up to ``k`` distinct items (draws with replacement, deduplicated)."""
        if k <= 0:
            return []
        seen: dict[Any, None] = {}
        for _ in range(4):
            for item in self.draw(rng, k - len(seen) + 4):
                seen.setdefault(item, None)
                if len(seen) >= k:
                    return list(seen)
        return list(seen)


@dataclass
class Model:
    templates: list[dict[str, Any]]
    old: list[dict[str, Any]]
    new: list[dict[str, Any]]
    sentences: list[str]
    sentence_words: list[int]
    title_words: list[str]
    syllables: list[str]
    authors: list[str]
    gene_groups: _Weighted  # printed words, by popularity
    gene_entries: dict[str, list[dict[str, Any]]]  # printed word -> the genes it resolved to
    jsonld_keywords: _Weighted  # newer records' schema-jsonld.keywords items
    paper_keywords: _Weighted  # newer records' `keywords` items
    chemicals: list[dict[str, Any]]
    diseases: list[dict[str, Any]]
    caption_lengths: dict[int, int] = field(default_factory=dict)


def _load_real(sample_dir: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted(sample_dir.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        front = text.split("\n---", 1)[0].removeprefix("---\n")
        data = yaml.load(front, Loader=_Yaml)
        if isinstance(data, dict) and data.get("figid"):
            records.append(data)
    if not records:
        raise SystemExit(f"no real records found in {sample_dir}")
    return records


_SENTENCE_SPLIT = re.compile(r"(?<=[.;!?])\s+(?=[A-Z0-9(αβγκ])")
_WORD = re.compile(r"[A-Za-z]{4,}")
_DIGIT = re.compile(r"\d")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in PLACEHOLDERS)


@lru_cache(maxsize=4)
def learn(sample_dir: Path = SAMPLE_DIR) -> Model:
    """Learn the generator's model from the real records in ``sample_dir``."""
    records = _load_real(Path(sample_dir))
    old = [r for r in records if "genes" in r]
    new = [r for r in records if "genes" not in r]

    sentences: list[str] = []
    for r in records:
        caption = r.get("caption")
        if isinstance(caption, str) and len(caption.split()) > 2:
            sentences.extend(s for s in _SENTENCE_SPLIT.split(" ".join(caption.split())) if s)
    title_words = [
        w
        for r in records
        for key in ("figtitle", "papertitle")
        if isinstance(r.get(key), str)
        for w in r[key].split()
    ]
    chunks: set[str] = set()
    for word in _WORD.findall(" ".join(sentences)):
        word = word.lower()
        chunks.update(word[i : i + 3] for i in range(0, len(word) - 2, 3))
    authors = sorted(
        {r["reftext"].split(", et al.")[0] for r in records if ", et al." in str(r.get("reftext"))}
    )

    groups: dict[str, dict[str, dict[str, Any]]] = {}
    group_counts: Counter = Counter()
    for r in old:
        seen_in_figure = set()
        for gene in r.get("genes") or []:
            word = str(gene.get("word"))
            groups.setdefault(word, {}).setdefault(str(gene.get("hgnc_symbol")), dict(gene))
            seen_in_figure.add(word)
        group_counts.update(seen_in_figure)
    gene_groups = _Weighted.zipf_by_count(group_counts)

    jsonld_counts: Counter = Counter()
    paper_counts: Counter = Counter()
    for r in new:
        keywords = (r.get("schema-jsonld") or {}).get("keywords")
        if isinstance(keywords, list):
            jsonld_counts.update(str(k) for k in keywords)
        if isinstance(r.get("keywords"), str) and not _is_missing(r["keywords"]):
            paper_counts.update(k.strip() for k in r["keywords"].split("|") if k.strip())

    return Model(
        templates=records,
        old=old,
        new=new,
        sentences=sentences,
        sentence_words=[len(s.split()) for s in sentences],
        title_words=title_words,
        syllables=sorted(chunks),
        authors=authors,
        gene_groups=gene_groups,
        gene_entries={word: list(entries.values()) for word, entries in groups.items()},
        jsonld_keywords=_Weighted.zipf_by_count(jsonld_counts, KEYWORD_EXPONENT),
        paper_keywords=_Weighted.zipf_by_count(paper_counts),
        chemicals=[dict(c) for r in old for c in r.get("chemicals") or []],
        diseases=[dict(d) for r in old for d in r.get("diseases") or []],
    )


# --------------------------------------------------------------------------------------
# Generating records


class _Generator:
    def __init__(self, model: Model, seed: int) -> None:
        self.m = model
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self._zipf_ids: list[int] = []
        self.figids: set[str] = set()
        self.paper: dict[str, Any] | None = None

    # -- words ---------------------------------------------------------------------

    def new_word_id(self) -> int:
        if not self._zipf_ids:
            self._zipf_ids = self.np.zipf(NEW_WORD_ZIPF, 4096).tolist()
        return self._zipf_ids.pop()

    def synthetic_word(self, ident: int) -> str:
        """A made-up word for an identity: frequent identities are short and reused."""
        syl = self.m.syllables
        n = len(syl)
        if ident % 5 == 0:  # gene-like token: letters and digits (FOXP123, SLC9)
            head = syl[ident % n].upper()
            return f"{head}{ident // n + 1}"
        parts = []
        x = ident
        while True:
            parts.append(syl[x % n])
            x //= n
            if x == 0:
                break
        parts.append(syl[(ident * 7919) % n])
        return "".join(parts)

    def mutate_words(self, words: list[str], rate: float = MUTATION_RATE) -> list[str]:
        if not words:
            return words
        k = int(self.np.binomial(len(words), rate))
        for _ in range(k):
            i = self.rng.randrange(len(words))
            words[i] = self.synthetic_word(self.new_word_id())
        return words

    def caption(self, template: dict[str, Any]) -> Any:
        real = template.get("caption")
        if not isinstance(real, str) or len(real.split()) <= 2:
            return real  # placeholders (.na.character, 'Figure') stay as they are
        target = len(real.split())  # the real length distribution, exactly
        m, rnd = self.m, self.rng.random
        sentences, n = m.sentences, len(m.sentences)
        # The template's own sentences, about half of them swapped for other real ones:
        # a caption keeps the word repetition of a real caption (which sets the number of
        # distinct terms per document, and so the indexing cost).
        words: list[str] = []
        for sentence in _SENTENCE_SPLIT.split(" ".join(real.split())):
            if rnd() < KEEP_SENTENCE:
                words.extend(sentence.split())
            else:
                words.extend(sentences[int(rnd() * n)].split())
        while len(words) < target:
            words.extend(sentences[int(rnd() * n)].split())
        del words[target:]
        return " ".join(self.mutate_words(words))

    def title(self, real: Any) -> Any:
        if not isinstance(real, str) or _is_missing(real):
            return real
        words = real.split()
        pool, rnd = self.m.title_words, self.rng.random
        n = len(pool)
        for i in range(len(words)):
            if rnd() < TITLE_RESAMPLE:
                words[i] = pool[int(rnd() * n)]
        text = " ".join(self.mutate_words(words))
        if real != real.strip():  # keep the real quirk of titles with outer spaces
            text = f" {text} "
        return text

    # -- ids -----------------------------------------------------------------------

    def digits_like(self, text: str) -> str:
        """``text`` with every digit replaced by a random one."""
        count = sum(c.isdigit() for c in text)
        if not count:
            return text
        digits = iter(f"{self.rng.getrandbits(4 * count + 8) % 10**count:0{count}d}")
        return _DIGIT.sub(lambda _: next(digits), text)

    def new_paper(self, template: dict[str, Any]) -> dict[str, Any]:
        real_pmc = str(template.get("pmcid") or "PMC1000000")
        number = int(re.sub(r"\D", "", real_pmc) or 1000000)
        pmc = f"PMC{max(1000, number + self.rng.randrange(-5000, 5000))}"
        year = template.get("year")
        reftext = template.get("reftext")
        if isinstance(reftext, str) and ", et al." in reftext:
            author = self.m.authors[self.rng.randrange(len(self.m.authors))]
            rest = reftext.split(", et al.", 1)[1]
            rest = re.sub(r"\d+", lambda x: x[0] if x[0] == year else self.digits_like(x[0]), rest)
            reftext = f"{author}, et al.{rest}"
        doi = template.get("doi")
        if isinstance(doi, str) and doi.startswith("10.") and "/" in doi:
            prefix, suffix = doi.split("/", 1)
            doi = f"{prefix}/{self.digits_like(suffix)}"
        return {
            "template": template,
            "pmcid": pmc,
            "papertitle": self.title(template.get("papertitle")),
            "reftext": reftext,
            "doi": doi,
            "figures": 0,
        }

    def figid(self, pmcid: str, template: dict[str, Any]) -> tuple[str, str]:
        stem, _, ext = str(template.get("filename") or "figure.jpg").rpartition(".")
        while True:
            new_stem = self.digits_like(stem or "fig1")
            figid = f"{pmcid}__{new_stem}"
            if figid not in self.figids:
                self.figids.add(figid)
                return figid, f"{new_stem}.{ext or 'jpg'}"
            stem = f"{stem}_{self.rng.randrange(10)}"

    # -- genes and terms -----------------------------------------------------------

    def count_like(self, real: int) -> int:
        if real <= 0:
            return 0
        return max(1, round(real * math.exp(self.rng.gauss(0.0, 0.3))))

    def genes(self, real_count: int) -> list[dict[str, Any]]:
        target = self.count_like(real_count)
        entries: list[dict[str, Any]] = []
        for word in self.m.gene_groups.draw_unique(self.rng, max(1, target // 2) if target else 0):
            if len(entries) >= target:
                break
            group = self.m.gene_entries[word]
            entries.extend(dict(e) for e in group[: max(1, target - len(entries))])
        if entries and self.rng.random() < 0.1:  # the real duplicate entries
            entries.append(dict(entries[self.rng.randrange(len(entries))]))
        for entry in entries:
            if self.rng.random() < 0.05 and isinstance(entry.get("word"), str):
                entry["word"] = (
                    self.rng.choice(("(", "", ""))
                    + entry["word"]
                    + self.rng.choice(("*", ")", "-1", "s"))
                )
        return entries

    def terms(self, pool: Sequence[dict[str, Any]], real_count: int) -> list[dict[str, Any]]:
        if not pool or real_count <= 0:
            return []
        k = self.count_like(real_count)
        seen: dict[str, dict[str, Any]] = {}
        for item in self.rng.choices(pool, k=k):
            seen.setdefault(str(item.get("word")), dict(item))
        return list(seen.values())

    # -- a whole record ------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        m, rng = self.m, self.rng
        if self.paper is not None and rng.random() < SAME_PAPER:
            paper = self.paper
            template = rng.choice(m.old if "genes" in paper["template"] else m.new)
        else:
            template = m.templates[rng.randrange(len(m.templates))]
            paper = self.paper = self.new_paper(template)
        paper["figures"] += 1
        base = paper["template"]
        pmcid = paper["pmcid"]
        figid, filename = self.figid(pmcid, template)
        older = "genes" in base
        other = rng.choice(m.old if older else m.new)  # organisms from an independent record
        caption = self.caption(template)
        number = template.get("number")
        if paper["figures"] > 1 and isinstance(number, str) and re.fullmatch(r"F\d+", number):
            number = f"F{paper['figures']}"
        figlink = template.get("figlink")
        if isinstance(figlink, str) and template.get("pmcid"):
            figlink = figlink.replace(str(template["pmcid"]), pmcid)

        out: dict[str, Any] = {}
        genes: list[dict[str, Any]] = []
        chemicals: list[dict[str, Any]] = []
        diseases: list[dict[str, Any]] = []
        if older:
            genes = self.genes(len(template.get("genes") or []))
            chemicals = self.terms(m.chemicals, len(template.get("chemicals") or []))
            diseases = self.terms(m.diseases, len(template.get("diseases") or []))
        for key in template:
            value = template.get(key, base.get(key))
            if key == "figid":
                value = figid
            elif key == "figlink":
                value = figlink
            elif key == "number":
                value = number
            elif key == "caption":
                value = caption
            elif key == "pmcid":
                value = pmcid
            elif key in ("papertitle", "reftext", "doi"):
                value = paper[key]
            elif key in ("year", "journal_title", "journal_nlm_ta", "publisher_name"):
                value = base.get(key)
            elif key == "filename":
                value = filename
            elif key == "figtitle":
                value = self.title(template.get("figtitle"))
            elif key in ("organisms", "organisms_ner"):
                value = other.get(key)
            elif key == "pmc_ranked_result_index":
                value = str(rng.randrange(1, 130000))
            elif key in ("pathway_score", "automl_pathway"):
                value = round(rng.uniform(0.5, 0.999), 7)
            elif key == "ndex":
                if value:
                    head = f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}"
                    value = f"{head}-11ea-99da-0ac135e8bacf"
            elif key == "keywords":
                if isinstance(value, str) and not _is_missing(value):
                    k = self.count_like(len(value.split("|")))
                    value = " | ".join(m.paper_keywords.draw_unique(rng, k))
            elif key == "genes":
                value = genes
            elif key == "chemicals":
                value = chemicals
            elif key == "diseases":
                value = diseases
            elif key == "figid_alias":
                value = f"{pmcid}__{number}"
            elif key == "redirect_from":
                value = f"/figures/{pmcid}__{number}"
            elif key == "schema-jsonld":
                value = self.jsonld(value, figid, caption, genes, chemicals, diseases, older)
            out[key] = value
        return out

    def jsonld(self, real, figid, caption, genes, chemicals, diseases, older) -> dict[str, Any]:
        real = dict(real or {})
        if older:
            keywords = list(dict.fromkeys(str(g["hgnc_symbol"]) for g in genes))
            keywords += [str(t["word"]) for t in chemicals + diseases]
        else:
            real_keywords = real.get("keywords")
            if not isinstance(real_keywords, list):
                real_keywords = [real_keywords]
            rnd = self.rng.random
            kept = [k for k in real_keywords if rnd() < KEEP_KEYWORD]
            drawn = self.m.jsonld_keywords.draw_unique(
                self.rng, self.count_like(len(real_keywords)) - len(kept)
            )
            keywords = list(dict.fromkeys(kept + drawn))
        out = {}
        for key, value in real.items():
            if key == "@id":
                value = f"https://pfocr.wikipathways.org/figures/{figid}.html"
            elif key == "description":
                value = caption
            elif key == "keywords":
                value = keywords
            out[key] = value
        return out


# --------------------------------------------------------------------------------------
# YAML text, written directly (the C dumper is several times slower for these records)

_UNSAFE = re.compile("[^\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
_YAML_WORDS = frozenset(["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "="])


_SCALARS: dict[str, str] = {}


def _scalar(value: Any) -> str:
    if type(value) is str:
        text = _SCALARS.get(value)
        if text is None:
            text = _str_scalar(value)
            if len(value) < 64:
                if len(_SCALARS) > 500_000:
                    _SCALARS.clear()
                _SCALARS[value] = text
        return text
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return _str_scalar(str(value))


def _str_scalar(s: str) -> str:
    if not s:
        return "''"
    if _UNSAFE.search(s):  # control characters, line breaks: let PyYAML quote it
        return (
            yaml.dump(s, Dumper=_Dumper, allow_unicode=True, width=1 << 30)
            .removesuffix("\n...\n")
            .rstrip("\n")
        )
    first = s[0]
    if (
        (first.isalpha() or first in "(/")
        and s[-1] not in " :"
        and ": " not in s
        and " #" not in s
        and s.lower() not in _YAML_WORDS
    ) or s == ".na.character":
        return s
    return "'" + s.replace("'", "''") + "'"


def _emit(data: Any, indent: str, lines: list[str]) -> None:
    """Append the block-style YAML lines of mapping ``data`` at ``indent``."""
    for key, value in data.items():
        k = _scalar(key)
        if type(value) is str:
            lines.append(f"{indent}{k}: {_scalar(value)}")
        elif isinstance(value, dict):
            if value:
                lines.append(f"{indent}{k}:")
                _emit(value, indent + "  ", lines)
            else:
                lines.append(f"{indent}{k}: {{}}")
        elif isinstance(value, list):
            if not value:
                lines.append(f"{indent}{k}: []")
                continue
            lines.append(f"{indent}{k}:")
            for item in value:
                if isinstance(item, dict) and item:
                    sub: list[str] = []
                    _emit(item, indent + "  ", sub)
                    sub[0] = f"{indent}- " + sub[0][len(indent) + 2 :]
                    lines.extend(sub)
                elif isinstance(item, list | dict):
                    lines.append(f"{indent}- " + json.dumps(item, ensure_ascii=False))
                else:
                    lines.append(f"{indent}- {_scalar(item)}")
        else:
            lines.append(f"{indent}{k}: {_scalar(value)}")


def to_front_matter(record: dict[str, Any]) -> str:
    """The text of a ``<figid>.md`` file: YAML front matter only, like the real files."""
    lines = ["---"]
    _emit(record, "", lines)
    lines.append("---\n")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Public API


def records(count: int, seed: int = 0, sample_dir: Path = SAMPLE_DIR) -> Iterable[dict[str, Any]]:
    """Yield ``count`` synthetic records (dicts as YAML would parse them)."""
    gen = _Generator(learn(Path(sample_dir)), seed)
    for _ in range(count):
        yield gen.record()


def generate(
    count: int,
    out_dir: str | Path,
    seed: int = 0,
    fmt: str = "md",
    *,
    overwrite: bool = True,
    sample_dir: Path = SAMPLE_DIR,
) -> list[Path]:
    """Write ``count`` synthetic records under ``out_dir``; return the files written.

    ``fmt="md"``: one ``<figid>.md`` per record in subfolders ``0000/``, ``0001/``... of
    at most 1,000 files. ``fmt="jsonl"``: one ``records.jsonl``. A previous synthetic
    corpus in ``out_dir`` is replaced (``overwrite``); any other non-empty folder is refused.
    """
    if fmt not in ("md", "jsonl"):
        raise ValueError(f"unknown format {fmt!r}: use 'md' or 'jsonl'")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not (overwrite and (out / MANIFEST).exists()):
            raise FileExistsError(f"{out} is not empty (and not a synthetic corpus to replace)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    if fmt == "jsonl":
        path = out / "records.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for record in records(count, seed, sample_dir):
                fh.write(json.dumps(record, ensure_ascii=False))
                fh.write("\n")
        paths.append(path)
    else:
        folder = None
        for index, record in enumerate(records(count, seed, sample_dir)):
            if index % FILES_PER_FOLDER == 0:
                folder = out / f"{index // FILES_PER_FOLDER:04d}"
                folder.mkdir()
            path = folder / f"{record['figid']}.md"
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(to_front_matter(record))
            paths.append(path)
    manifest = {"count": count, "seed": seed, "format": fmt, "version": GENERATOR_VERSION}
    (out / MANIFEST).write_text(json.dumps(manifest) + "\n", encoding="utf-8")
    return paths


def read_manifest(out_dir: str | Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def mutate(paths: Sequence[str | Path], fraction_or_count: float | int, seed: int = 1) -> list[str]:
    """Change the text (caption, title, description) of k existing records, in place.

    ``fraction_or_count``: a float in (0, 1] is a share of the records, an int a number.
    Works on ``.md`` files (one record each) and ``.jsonl`` files (one record per line).
    Returns the locations changed (``path`` or ``path:LINE``), so a benchmark can check them.
    """
    units: list[tuple[Path, int | None]] = []
    for given in paths:
        path = Path(given)
        if path.suffix == ".jsonl":
            with path.open(encoding="utf-8") as fh:
                units.extend((path, n) for n, line in enumerate(fh) if line.strip())
        else:
            units.append((path, None))
    if isinstance(fraction_or_count, float):
        k = round(len(units) * fraction_or_count)
    else:
        k = int(fraction_or_count)
    k = max(0, min(k, len(units)))
    gen = _Generator(learn(SAMPLE_DIR), seed)
    chosen = sorted(gen.rng.sample(range(len(units)), k))
    changed: list[str] = []
    jsonl_edits: dict[Path, dict[int, None]] = {}
    for index in chosen:
        path, line = units[index]
        if line is None:
            text = path.read_text(encoding="utf-8")
            record = yaml.load(text.split("\n---", 1)[0].removeprefix("---\n"), Loader=_Yaml)
            path.write_text(to_front_matter(_changed(gen, record)), encoding="utf-8")
            changed.append(str(path))
        else:
            jsonl_edits.setdefault(path, {})[line] = None
    for path, lines in jsonl_edits.items():
        with path.open(encoding="utf-8") as fh:
            content = fh.readlines()
        for n in lines:
            record = _changed(gen, json.loads(content[n]))
            content[n] = json.dumps(record, ensure_ascii=False) + "\n"
            changed.append(f"{path}:{n + 1}")
        with path.open("w", encoding="utf-8") as fh:
            fh.writelines(content)
    return changed


def _changed(gen: _Generator, record: dict[str, Any]) -> dict[str, Any]:
    m = gen.m
    extra = " ".join(
        gen.mutate_words(m.sentences[gen.rng.randrange(len(m.sentences))].split(), rate=0.2)
    )
    caption = record.get("caption")
    caption = (
        f"{caption} {extra}" if isinstance(caption, str) and not _is_missing(caption) else extra
    )
    record["caption"] = caption
    record["figtitle"] = gen.title(record.get("figtitle")) or extra
    jsonld = record.get("schema-jsonld")
    if isinstance(jsonld, dict) and "description" in jsonld:
        jsonld["description"] = caption
    return record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.synth", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--count", type=int, required=True, help="number of records")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", choices=("md", "jsonl"), default="md")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        paths = generate(args.count, args.out, seed=args.seed, fmt=args.format)
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    print(
        f"wrote {args.count} records in {len(paths)} file(s) under {args.out} "
        f"in {elapsed:.1f} s ({args.count / max(elapsed, 1e-9):,.0f} records/s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

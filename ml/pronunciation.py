"""Words and their ARPAbet pronunciations for the aligner (bpy-free, no pipeline imports).

The dictionary is the CMU dictionary that pocketsphinx ships with its en-us model (134k words,
ARPAbet without stress digits, the same phone set as the acoustic model). `words(text)` turns free
text into dictionary-style tokens; `Lexicon.pronounce(word)` gives a pronunciation for any token,
saying whether it had to guess one for a word the dictionary lacks.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from pathlib import Path

VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
VOICELESS = {"P", "T", "K", "F", "TH"}
SIBILANTS = {"S", "Z", "SH", "ZH", "CH", "JH"}

# How each letter is said on its own, for spelling out what has no better guess (acronyms, "XQZ").
LETTERS = {
    "a": "EY", "b": "B IY", "c": "S IY", "d": "D IY", "e": "IY", "f": "EH F", "g": "JH IY",
    "h": "EY CH", "i": "AY", "j": "JH EY", "k": "K EY", "l": "EH L", "m": "EH M", "n": "EH N",
    "o": "OW", "p": "P IY", "q": "K Y UW", "r": "AA R", "s": "EH S", "t": "T IY", "u": "Y UW",
    "v": "V IY", "w": "D AH B AH L Y UW", "x": "EH K S", "y": "W AY", "z": "Z IY",
}

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> list[str]:
    """English words for 0 <= n < 10**9 ("42" -> forty two); longer digit strings go digit by digit."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + (number_words(n % 10) if n % 10 else [])
    if n < 1000:
        return number_words(n // 100) + ["hundred"] + (number_words(n % 100) if n % 100 else [])
    for size, name in ((10**6, "million"), (1000, "thousand")):
        if n >= size:
            return number_words(n // size) + [name] + (number_words(n % size) if n % size else [])
    raise ValueError(n)


def words(text: str) -> list[str]:
    """Lower-case dictionary tokens of free text: curly quotes and accents folded, punctuation and
    hyphens dropped, inner apostrophes kept (don't, it's), numbers spelled out."""
    # curly apostrophes become ', dashes spaces, before accents are folded away
    text = re.sub(r"[\u2018\u2019\u02bc\u0060\u00b4]", "'", text)
    text = re.sub(r"[\u2010-\u2015\u2212]", " ", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = text.lower().replace("%", " percent ").replace("&", " and ")
    out: list[str] = []
    for token in re.findall(r"[a-z0-9']+", re.sub(r"(?<=\d),(?=\d{3})", "", text)):
        token = token.strip("'")
        for part in re.findall(r"\d+|[a-z']+", token):
            if part.isdigit():
                out += number_words(int(part)) if len(part) <= 9 else [_ONES[int(d)] for d in part]
            elif part.strip("'"):
                out.append(part.strip("'"))
    return out


class Lexicon:
    """The CMU dictionary of a pocketsphinx model, with guesses for words it lacks."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @functools.cached_property
    def entries(self) -> dict[str, str]:
        table: dict[str, str] = {}
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                word, _, phones = line.strip().partition(" ")
                if phones and "(" not in word:          # the first (main) pronunciation only
                    table.setdefault(word, phones.strip())
        return table

    @functools.cached_property
    def _by_initial(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for word in self.entries:
            groups.setdefault(word[:1], []).append(word)
        return groups

    def pronounce(self, word: str) -> tuple[str, bool]:
        """(space-separated ARPAbet phones, guessed). A word the dictionary lacks is, in order: a
        possessive or plural of a known word, two known words run together, the nearest spelling of
        the same length give or take two with the same first letter, or spelt letter by letter."""
        if word in self.entries:
            return self.entries[word], False
        for suffix in ("'s", "s", "es", "'"):
            base = word[:-len(suffix)]
            if word.endswith(suffix) and base in self.entries:
                phones = self.entries[base]
                last = phones.split()[-1]
                if suffix == "'":
                    return phones, True
                ending = "IH Z" if last in SIBILANTS else "S" if last in VOICELESS else "Z"
                return f"{phones} {ending}", True
        for cut in range(len(word) - 2, 2, -1):                # longest known head first
            head, tail = word[:cut], word[cut:]
            if head in self.entries and tail in self.entries and len(tail) > 2:
                return f"{self.entries[head]} {self.entries[tail]}", True
        near = difflib.get_close_matches(
            word, [w for w in self._by_initial.get(word[:1], []) if abs(len(w) - len(word)) <= 2],
            n=1, cutoff=0.6)
        if near:
            return self.entries[near[0]], True
        letters = [LETTERS[c] for c in word if c in LETTERS]
        return (" ".join(letters) if letters else "AH"), True

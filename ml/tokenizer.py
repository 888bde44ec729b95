"""Text -> tokens in the form GloVe 6B was trained on (lowercase, Stanford/PTB-style splits).

GloVe 6B vectors exist for PTB tokens such as "n't", "'s", "ca" (from "can't"), "!" and "...",
so splitting the same way is what lets a word find its vector. Emoji are turned into the words of
their Unicode names (a few poorly named ones get a hand-picked gloss); those words help the
classifier but are marked kind "emoji" so that `known_fraction` can still tell text with no
English in it. Stdlib only: runs inside Blender.
"""

import re
import unicodedata

# Unknown numbers fall back to this token (GloVe has it; Gigaword writes numbers as "#").
NUMBER_TOKEN = "#"

# Hand glosses where the Unicode name misleads ("FACE WITH TEARS OF JOY" is laughter, not tears)
# or says nothing emotive ("HEAVY BLACK HEART").
EMOJI_WORDS = {
    "\u2764": "love heart", "\u2665": "love heart", "\U0001F602": "laughing lol",
    "\U0001F923": "laughing lol", "\U0001F62D": "crying sad", "\U0001F621": "angry face",
    "\U0001F620": "angry face", "\U0001F92C": "angry cursing", "\U0001F44D": "thumbs up good",
    "\U0001F44E": "thumbs down bad", "\U0001F64F": "thank you please",
    "\U0001F60D": "love smiling", "\U0001F970": "love smiling", "\U0001F618": "kiss love",
    "\U0001F62E": "surprised face", "\U0001F632": "astonished surprised",
    "\U0001F92E": "vomiting disgusting", "\U0001F622": "crying sad", "\u2639": "frowning sad",
    "\U0001F494": "broken heart sad", "\U0001F631": "screaming fear",
}
# Text emoticons are glossed the same way (GloVe barely knows ":(").
EMOTICONS = {
    ":)": "smile", ":-)": "smile", "(:": "smile", ":d": "laughing", ":-d": "laughing",
    "xd": "laughing", ":(": "sad", ":-(": "sad", ":'(": "crying sad", ";)": "wink",
    ";-)": "wink", ":p": "joking", ":-p": "joking", ":o": "surprised", "<3": "love",
    ">:(": "angry", ":/": "unsure", ":|": "neutral",
}

# Reddit slang that GloVe 6B (Wikipedia + news) lacks but GoEmotions uses often.
SLANG = {"lmao": "lol", "lmfao": "lol", "rofl": "lol", "tbh": "honestly", "idk": "i do n't know",
         "ikr": "i know", "y'all": "you all", "imo": "in my opinion", "omfg": "omg"}
_LAUGH = re.compile(r"a?(?:ha){3,}h?|(?:he){3,}")

_MASKS = re.compile(
    r"https?://\S+|www\.\S+"        # URLs
    r"|\[[A-Za-z]*\]"                # GoEmotions anonymisation: [NAME], [RELIGION]
    r"|(?<!\w)/?[ur]/[\w-]+"         # Reddit users and subreddits
    r"|(?<!\w)@\w+")                 # @mentions
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00b4": "'", "\u201c": '"',
                         "\u201d": '"', "\u2026": "...", "\u2013": "-", "\u2014": " - "})
_EMOTICON = "|".join(re.escape(e) for e in sorted(EMOTICONS, key=len, reverse=True))
_TOKEN = re.compile(
    rf"(?P<emoticon>(?<![^\s])(?:{_EMOTICON})(?![^\s.,!?]))"
    r"|(?P<word>n't|'(?:s|m|re|ve|ll|d)\b"        # clitics split off below
    r"|\d+(?:[.,:]\d+)*(?![^\W_])"                # numbers: 3.5, 10,000, 2:30
    r"|[^\W_]+(?:['-][^\W_]+)*)"                  # words, incl. well-known, o'clock
    r"|(?P<punct>\.\.\.|[^\w\s])")
_NOT = re.compile(r"(?<=\w)n't\b")
_CLITIC = re.compile(r"(?<=\w)'(s|m|re|ve|ll|d)\b")
_REPEAT_PUNCT = re.compile(r"([!?])\1{2,}")
_ELONGATED = re.compile(r"(\w)\1{2,}")


def _emoji_to_words(text: str) -> str:
    """Replace each symbol character by its words, wrapped in \x01 so the tokens stay marked."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in EMOJI_WORDS:
            out.append(f" \x01{EMOJI_WORDS[ch]}\x01 ")
        elif cat == "So":
            name = unicodedata.name(ch, "").lower()
            words = re.sub(r"[^a-z ]", " ", name.replace(" sign", ""))
            out.append(f" \x01{words}\x01 " if words.strip() else " ")
        elif cat in ("Sk", "Cf", "Mn") and ord(ch) >= 0x2000:
            out.append("")             # skin-tone modifiers, joiners, variation selectors
        else:
            out.append(ch)
    return "".join(out)


def tokenize_with_kinds(text: str) -> list[tuple[str, str]]:
    """(token, kind) pairs; kind is "word" (incl. numbers), "punct" or "emoji"."""
    text = _MASKS.sub(" ", text.translate(_QUOTES))
    text = _emoji_to_words(text).lower()
    text = _REPEAT_PUNCT.sub(r"\1\1\1", text)        # "!!!!!!!" would fill the window
    text = _CLITIC.sub(r" '\1", _NOT.sub(" n't", text))
    out: list[tuple[str, str]] = []
    for i, part in enumerate(text.split("\x01")):   # odd parts came from emoji
        for m in _TOKEN.finditer(part):
            if i % 2:
                out.append((m.group(), "emoji"))
            elif m.lastgroup == "emoticon":
                out.extend((w, "emoji") for w in EMOTICONS[m.group()].split())
            elif m.group() in SLANG:
                out.extend((w, "word") for w in SLANG[m.group()].split())
            elif _LAUGH.fullmatch(m.group()):
                out.append(("haha", "word"))
            else:
                out.append((m.group(), m.lastgroup))
    return out


def tokenize(text: str) -> list[str]:
    """GloVe-6B-style tokens: tokenize("I don't know!") == ["i", "do", "n't", "know", "!"]."""
    return [t for t, _ in tokenize_with_kinds(text)]


def lookup(token: str, index: dict[str, int]) -> list[int]:
    """Vocabulary ids for one token, [] when unknown.

    Fallbacks for what GloVe lacks: numbers -> NUMBER_TOKEN, "super-happy" -> its parts,
    Reddit elongation "sooooo" -> "soo" / "so".
    """
    if token in index:
        return [index[token]]
    if token[0].isdigit() and NUMBER_TOKEN in index:
        return [index[NUMBER_TOKEN]]
    if "-" in token:
        parts = [lookup(p, index) for p in token.split("-") if p]
        if parts and all(parts):
            return [i for p in parts for i in p]
    if _ELONGATED.search(token):
        for rep in (r"\1\1", r"\1"):
            short = _ELONGATED.sub(rep, token)
            if short in index:
                return [index[short]]
    return []

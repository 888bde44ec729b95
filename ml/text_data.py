"""A user's labelled lines for `python -m emotive train-text --data DIR`: read and check them all
before any training (bpy-free, stdlib only).

DIR (or a single file) holds one of two layouts:

- GoEmotions TSV: `train.tsv` [`dev.tsv`] [`test.tsv`], each line `text<TAB>label ids<TAB>id`
  (label ids: comma-separated indices into ml.labels.GOEMOTIONS; the id column may be left out).
- CSV with a header row naming a `text` and a `label` column (other columns are ignored):
  `train.csv` [`dev.csv`] [`test.csv`]. A label is a GoEmotions name (`nervousness`) or an
  Ekman name (`fear`); several labels of one line are separated by `;` or `|`. Names ignore case.

Every Ekman name is also a GoEmotions label (anger, disgust, fear, joy, sadness, surprise,
neutral), so a line labelled with an Ekman name trains that label of the 28-way model: the
model's Ekman-7 probabilities (sums of the 28 per ml.labels.EKMAN_GROUPS) come out as for any
other model. A folder holding a single .tsv/.csv file under another name uses it as train.
Without a dev file, a share of train is split off as dev, chosen by the seed.

Problems (unknown labels, empty files or texts, missing columns, bytes that are not UTF-8) are
collected over all files and raised together as one TextDataError naming each file and line.
"""

from __future__ import annotations

import csv
import difflib
import io
import random
from dataclasses import dataclass, field
from pathlib import Path

from . import labels as L

SPLITS = ("train", "dev", "test")
SUFFIXES = (".tsv", ".csv")
DEV_SHARE = 0.1            # of train, when there is no dev file
MIN_TRAIN = 2              # lines: one to train on and one for dev at the very least
MAX_REPORTED = 12          # problems listed in the message; the rest are counted
LABEL_SEPARATORS = (";", "|")


class TextDataError(ValueError):
    """Bad training data; the message lists each problem as 'file, line N: what'."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        shown = self.problems[:MAX_REPORTED]
        more = len(self.problems) - len(shown)
        super().__init__("bad training data:\n  " + "\n  ".join(shown)
                         + (f"\n  … and {more} more problem(s)" if more else ""))


@dataclass
class Split:
    texts: list[str] = field(default_factory=list)
    targets: list[list[int]] = field(default_factory=list)      # GoEmotions label ids per line
    source: str = ""                                             # the file, or how it was made

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class TextData:
    train: Split
    dev: Split
    test: Split | None
    layout: str                     # "tsv" or "csv"
    ekman_only: bool                # every label used is one of the 7 Ekman names

    def describe(self) -> dict:
        return {"layout": self.layout, "ekman_only_labels": self.ekman_only,
                **{name: {"lines": len(s), "source": s.source}
                   for name, s in (("train", self.train), ("dev", self.dev), ("test", self.test)) if s}}


_NAMES = {n: i for i, n in enumerate(L.GOEMOTIONS)}


def find_files(data: Path) -> tuple[str, dict[str, Path]]:
    """(layout, {split: file}) of a data folder or single file; TextDataError if none fits."""
    data = Path(data)
    if data.is_file():
        if data.suffix.lower() not in SUFFIXES:
            raise TextDataError([f"'{data}': not a .tsv or .csv file"])
        return data.suffix.lower()[1:], {"train": data}
    if not data.is_dir():
        raise TextDataError([f"'{data}': no such folder or file"])
    files = sorted(p for p in data.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    found = {}
    for split in SPLITS:
        named = [p for p in files if p.stem.lower() == split]
        if len(named) > 1:
            raise TextDataError([f"'{data}': both {' and '.join(p.name for p in named)}; keep one"])
        if named:
            found[split] = named[0]
    if "train" not in found:
        if len(files) == 1 and not found:
            found["train"] = files[0]
        else:
            what = "no .tsv or .csv file" if not files else \
                f"no train.tsv or train.csv (found {', '.join(p.name for p in files)})"
            raise TextDataError([f"'{data}': {what}"])
    layouts = {p.suffix.lower()[1:] for p in found.values()}
    if len(layouts) > 1:
        raise TextDataError([f"'{data}': mixes .tsv and .csv files ({', '.join(p.name for p in found.values())}); "
                             "use one layout"])
    return layouts.pop(), found


def _decode(path: Path, problems: list[str]) -> str | None:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems.append(f"'{path}': cannot be read ({exc.strerror or exc})")
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        problems.append(f"'{path}', line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                        "save the file as UTF-8")
        return None
    if not text.strip():
        problems.append(f"'{path}': the file is empty")
        return None
    return text


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name, L.GOEMOTIONS, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return (f"unknown label '{name}'{hint}; use GoEmotions names ({', '.join(L.GOEMOTIONS)}) "
            f"or Ekman names ({', '.join(L.EKMAN)})")


def _read_tsv(path: Path, text: str, problems: list[str]) -> Split:
    out = Split(source=str(path))
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cols = line.split("\t")
        where = f"'{path}', line {n}"
        if len(cols) not in (2, 3):
            problems.append(f"{where}: {len(cols)} tab-separated columns; expected text<TAB>label ids[<TAB>id]")
            continue
        sentence, ids = cols[0].strip(), cols[1].strip()
        if not sentence:
            problems.append(f"{where}: the text is empty")
            continue
        try:
            target = sorted({int(i) for i in ids.split(",")})
        except ValueError:
            problems.append(f"{where}: labels '{ids}' are not comma-separated numbers "
                            f"(0-{len(L.GOEMOTIONS) - 1}, GoEmotions order)")
            continue
        bad = [i for i in target if not 0 <= i < len(L.GOEMOTIONS)]
        if bad:
            problems.append(f"{where}: unknown label id {bad[0]} (GoEmotions ids are 0-{len(L.GOEMOTIONS) - 1})")
            continue
        out.texts.append(sentence)
        out.targets.append(target)
    if not out.texts and not any(p.startswith(f"'{path}'") for p in problems):
        problems.append(f"'{path}': no labelled lines")
    return out


def _read_csv(path: Path, text: str, problems: list[str]) -> Split:
    out = Split(source=str(path))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        problems.append(f"'{path}', line 1: no header row ({exc})")
        return out
    columns = [c.strip().lower() for c in header]
    missing = [c for c in ("text", "label") if c not in columns]
    if missing:
        problems.append(f"'{path}', line 1: the header {header!r} has no {' or '.join(repr(m) for m in missing)} "
                        "column; expected a header row 'text,label'")
        return out
    ti, li = columns.index("text"), columns.index("label")
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(f"'{path}', line {start}: not valid CSV ({exc})")
            break
        where = f"'{path}', line {start}"
        start = reader.line_num + 1
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) <= max(ti, li):
            problems.append(f"{where}: {len(row)} column(s); expected {len(header)} ({','.join(header)})")
            continue
        sentence, names = row[ti].strip(), row[li].strip().lower()
        if not sentence:
            problems.append(f"{where}: the text is empty")
            continue
        for sep in LABEL_SEPARATORS:
            names = names.replace(sep, ",")
        names = [n.strip() for n in names.split(",") if n.strip()]
        if not names:
            problems.append(f"{where}: no label")
            continue
        unknown = [n for n in names if n not in _NAMES]
        if unknown:
            problems.append(f"{where}: {_unknown(unknown[0])}")
            continue
        out.texts.append(sentence)
        out.targets.append(sorted({_NAMES[n] for n in names}))
    if not out.texts and not any(p.startswith(f"'{path}'") for p in problems):
        problems.append(f"'{path}': no labelled lines under the header")
    return out


def split_dev(train: Split, seed: int, share: float = DEV_SHARE) -> tuple[Split, Split]:
    """A seeded share of train (at least one line) as dev; the rest stays train, in file order."""
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    n_dev = max(1, round(share * len(train)))
    dev_idx = set(order[:n_dev])

    def take(keep, source):
        idx = [i for i in range(len(train)) if (i in dev_idx) == keep]
        return Split([train.texts[i] for i in idx], [train.targets[i] for i in idx], source)
    return (take(False, train.source),
            take(True, f"{share:.0%} of {train.source} (seed {seed})"))


def read_text_data(data: Path, seed: int = 0) -> TextData:
    """Every file of the data folder read and checked; TextDataError lists all problems."""
    layout, files = find_files(data)
    problems: list[str] = []
    splits = {}
    for split, path in files.items():
        text = _decode(path, problems)
        if text is not None:
            splits[split] = (_read_tsv if layout == "tsv" else _read_csv)(path, text, problems)
    if problems:
        raise TextDataError(problems)
    train = splits["train"]
    if "dev" not in splits and len(train) < MIN_TRAIN:
        raise TextDataError([f"'{train.source}': {len(train)} labelled line(s); at least {MIN_TRAIN} are "
                             "needed (one is split off as dev when there is no dev file)"])
    if "dev" in splits:
        dev = splits["dev"]
    else:
        train, dev = split_dev(train, seed)
    used = {i for s in splits.values() for t in s.targets for i in t}
    ekman_only = all(L.GOEMOTIONS[i] in L.EKMAN for i in used)
    return TextData(train=train, dev=dev, test=splits.get("test"), layout=layout, ekman_only=ekman_only)

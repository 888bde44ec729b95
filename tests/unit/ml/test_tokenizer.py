from emotive.ml.tokenizer import NUMBER_TOKEN, lookup, tokenize, tokenize_with_kinds


def test_lowercase_and_punctuation():
    assert tokenize("Hello, World!") == ["hello", ",", "world", "!"]
    assert tokenize("Wait... what?") == ["wait", "...", "what", "?"]


def test_ptb_contractions():
    assert tokenize("I don't know") == ["i", "do", "n't", "know"]
    assert tokenize("I'm sure it's fine") == ["i", "'m", "sure", "it", "'s", "fine"]
    assert tokenize("can't won't") == ["ca", "n't", "wo", "n't"]
    assert tokenize("we're they've you'll he'd") == ["we", "'re", "they", "'ve", "you", "'ll", "he", "'d"]
    assert tokenize("It\u2019s") == ["it", "'s"]                      # curly apostrophe


def test_numbers_kept_whole_and_fall_back():
    assert tokenize("3.5 times, 10,000 people at 2019") == ["3.5", "times", ",", "10,000", "people", "at", "2019"]
    index = {NUMBER_TOKEN: 7, "42": 3}
    assert lookup("42", index) == [3]
    assert lookup("123456789", index) == [7]


def test_emoji_become_words_marked_as_emoji():
    assert tokenize("\U0001F600") == ["grinning", "face"]
    assert "love" in tokenize("\u2764\ufe0f") and "laughing" in tokenize("\U0001F602")
    assert tokenize("ok \U0001F44D\U0001F3FD") == ["ok", "thumbs", "up", "good"]   # skin tone dropped
    assert {k for _, k in tokenize_with_kinds("\U0001F62D :(")} == {"emoji"}


def test_masks_urls_and_names():
    assert tokenize("[NAME] said https://example.com/x?y=1 to u/someone @bob") == ["said", "to"]


def test_unknown_words_and_fallbacks():
    index = {"so": 0, "happy": 1, "super": 2}
    assert lookup("qwzxv", index) == []
    assert lookup("soooo", index) == [0]
    assert lookup("super-happy", index) == [2, 1]
    assert tokenize("") == [] and tokenize("   ") == []

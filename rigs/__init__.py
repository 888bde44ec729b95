"""The face, bpy-free: ARKit and landmark vocabularies, the default head's geometry, bindings,
solvers (landmarks -> shape keys, own keys, bones) and, in formats/, capture readers.

May import numpy, scipy, errors and ml/labels.py (a leaf of names, for facs.py); mediapipe and
cv2 only lazily. Never bpy (that is rigs/blender/), pipeline/ or the rest of ml/.
"""

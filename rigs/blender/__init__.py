"""The Blender side of rigs/: the only bpy under rigs/. Each module is named after its pure
partner in rigs/ (binding.py <- auto_binding.py / landmark_binding.py, shape_keys.py <-
custom_keys.py, face_rig.py <- bone_rbf.py, shape_transfer.py <- shape_transfer.py, ...).

May import bpy, rigs/ (pure), pipeline.take, pipeline.keys and errors; never operators, panels,
headless or training code. actions.py (new Actions) imports nothing else from here;
targets.py (TARGETS) builds on it.
"""

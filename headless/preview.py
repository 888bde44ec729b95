"""Preview renders for headless jobs: a contact sheet of apex frames, and an MP4.

Workbench by default (fast, headless-safe); Cycles on the CPU when asked. The camera and light are
only added when the scene has none, framing the animated object from the front (-Y). Contact-sheet
tiles carry captions (segment, emotion, first words), rendered by Blender itself: a text object on
a white card in front of the camera for the duration of the sheet, so the sheet needs nothing
beyond Blender wherever it runs; the card leaves nothing behind (the render settings a preview
needs stay set, as for the MP4).
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector

from .jobs import ENGINES

CAPTION_CHARS = 42      # a caption line's length at the sheet's tile size (longer text is cut with …)
CAPTION_DEPTH = 0.15    # m in front of the camera (at least 1.5 x its clip start): before any face


def ensure_camera_and_light(scene, obj) -> None:
    corners = [obj.matrix_world @ Vector(c) for c in obj.bound_box]
    low = Vector(np.min(corners, axis=0))
    high = Vector(np.max(corners, axis=0))
    centre = (low + high) / 2
    size = max(high.x - low.x, high.z - low.z)
    if scene.camera is None:
        cam = bpy.data.objects.new("Emotive Camera", bpy.data.cameras.new("Emotive Camera"))
        cam.data.lens = 85
        # 85 mm on a 36 mm sensor sees ~0.42 of the distance: the face fills most of the frame.
        cam.location = (centre.x, low.y - 2.2 * size, centre.z + 0.08 * size)
        cam.rotation_euler = (np.pi / 2, 0.0, 0.0)
        scene.collection.objects.link(cam)
        scene.camera = cam
    if not any(o.type == 'LIGHT' for o in scene.objects):
        light = bpy.data.objects.new("Emotive Key Light", bpy.data.lights.new("Emotive Key Light", 'AREA'))
        light.data.energy = 6.0  # AgX: brighter washes the skin tone (and brows) out
        light.data.size = size * 2
        light.location = (centre.x + size, low.y - 2.0 * size, centre.z + size)
        light.rotation_euler = (np.radians(60), 0.0, np.radians(30))
        scene.collection.objects.link(light)


def _configure(scene, engine: str, size: int) -> None:
    if engine not in ENGINES:
        raise ValueError(f"unknown render engine {engine!r}; use one of {', '.join(ENGINES)}")
    scene.render.engine = ENGINES[engine]
    if engine == "cycles":
        scene.cycles.device = 'CPU'
        scene.cycles.samples = 16
        scene.cycles.use_denoising = False
    else:
        scene.display.shading.light = 'STUDIO'
        scene.display.shading.color_type = 'TEXTURE'
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100


def _flat_material(name: str, rgba) -> bpy.types.Material:
    """A material that shows `rgba` unlit: its viewport colour for Workbench, an emission for Cycles."""
    mat = bpy.data.materials.new(name)
    mat.diffuse_color = rgba
    mat.use_nodes = True
    nodes = mat.node_tree.nodes
    nodes.clear()
    emission = nodes.new("ShaderNodeEmission")
    emission.inputs["Color"].default_value = rgba
    output = nodes.new("ShaderNodeOutputMaterial")
    mat.node_tree.links.new(emission.outputs["Emission"], output.inputs["Surface"])
    return mat


def caption(number: int, emotion: str, text: str) -> str:
    words = " ".join(text.split())
    line = f"{number}  {emotion}  {words}"
    return line if len(line) <= CAPTION_CHARS else line[:CAPTION_CHARS - 1].rstrip() + "…"


def _view_at(cam, scene, depth: float) -> tuple[float, float, float, float]:
    """(left, right, bottom, top) of the camera's view, in its local x/y, at `depth` in front of it
    (sensor fit, shift and orthographic cameras included)."""
    corners = cam.data.view_frame(scene=scene)
    scale = 1.0 if cam.data.type == 'ORTHO' else depth / -corners[0].z
    xs, ys = [c.x * scale for c in corners], [c.y * scale for c in corners]
    return min(xs), max(xs), min(ys), max(ys)


@contextlib.contextmanager
def caption_card(scene):
    """A caption strip across the bottom of the camera's view while the block runs; yields a
    function that sets its text (shrunk to fit the strip). Everything it adds is removed
    afterwards, the font Blender loads for it included."""
    cam = scene.camera
    depth = max(CAPTION_DEPTH, 1.5 * cam.data.clip_start)
    left, right, bottom, top = _view_at(cam, scene, depth)
    height = 0.1 * (top - bottom)
    fonts = set(bpy.data.fonts)
    made = []   # (collection of bpy.data, datablock), removed in reverse

    def keep(collection, block):
        made.append((collection, block))
        return block

    def add(name, data, location, material):
        data.materials.append(material)
        obj = keep(bpy.data.objects, bpy.data.objects.new(name, data))
        obj.parent = cam
        obj.location = location
        for ray in ("diffuse", "glossy", "shadow", "transmission", "volume_scatter"):
            setattr(obj, f"visible_{ray}", False)  # Cycles: the card must not light the face
        scene.collection.objects.link(obj)
        return obj

    try:
        white = keep(bpy.data.materials, _flat_material("Emotive Caption Card", (1, 1, 1, 1)))
        ink = keep(bpy.data.materials, _flat_material("Emotive Caption Ink", (0, 0, 0, 1)))
        card = keep(bpy.data.meshes, bpy.data.meshes.new("Emotive Caption Card"))
        card.from_pydata([(left, bottom, 0), (right, bottom, 0), (right, bottom + height, 0),
                          (left, bottom + height, 0)], [], [(0, 1, 2, 3)])
        add("Emotive Caption Card", card, (0, 0, -depth), white)
        curve = keep(bpy.data.curves, bpy.data.curves.new("Emotive Caption", 'FONT'))
        curve.align_y = 'CENTER'
        margin = 0.03 * (right - left)
        label = add("Emotive Caption", curve, (left + margin, bottom + height / 2, -0.99 * depth), ink)

        def set_text(text: str) -> None:
            curve.body = text
            curve.size = 0.5 * height
            bpy.context.view_layer.update()
            room = right - left - 2 * margin
            if label.dimensions.x > room:
                curve.size *= room / label.dimensions.x

        yield set_text
    finally:
        for collection, block in reversed(made):
            collection.remove(block)
        for font in set(bpy.data.fonts) - fonts:
            if font.users == 0:
                bpy.data.fonts.remove(font)


def render_contact_sheet(scene, frames: list[int], path: str | Path, *, engine: str = "workbench",
                         size: int = 320, columns: int = 4, captions: list[str] | None = None,
                         on_frame=None) -> Path:
    """Render each frame as a tile of a grid PNG (row-major, in the order given), with
    captions[i] across the bottom of tile i when given; on_frame() is called after each tile."""
    _configure(scene, engine, size)
    tiles = []
    settings = scene.render.image_settings
    settings.media_type = 'IMAGE'
    settings.file_format = 'PNG'
    with tempfile.TemporaryDirectory() as tmp, \
            (caption_card(scene) if captions else contextlib.nullcontext(None)) as set_caption:
        for i, frame in enumerate(frames):
            scene.frame_set(frame)
            if set_caption:
                set_caption(captions[i])
            scene.render.filepath = str(Path(tmp) / f"tile{i}.png")
            bpy.ops.render.render(write_still=True)
            image = bpy.data.images.load(scene.render.filepath)
            pixels = np.empty(size * size * 4, dtype=np.float32)
            image.pixels.foreach_get(pixels)
            bpy.data.images.remove(image)
            tiles.append(pixels.reshape(size, size, 4))
            if on_frame:
                on_frame()
    return save_grid(tiles, path, columns)


def save_grid(tiles: list, path: str | Path, columns: int) -> Path:
    """Write equal (size, size, 4) float RGBA tiles, rows bottom-up as Blender's pixels run, as one
    PNG grid: the first tile top-left, row by row; empty places white."""
    size = tiles[0].shape[0]
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    sheet = np.ones((rows * size, columns * size, 4), dtype=np.float32)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        y0 = (rows - 1 - r) * size
        sheet[y0:y0 + size, c * size:(c + 1) * size] = tile
    out = bpy.data.images.new("Emotive Contact Sheet", columns * size, rows * size, alpha=True)
    out.pixels.foreach_set(sheet.ravel())
    out.filepath_raw = str(path)
    out.file_format = 'PNG'
    out.save()
    bpy.data.images.remove(out)
    return Path(path)


def render_video(scene, path: str | Path, *, engine: str = "workbench", size: int = 384, on_frame=None) -> Path:
    """Render the scene's frame range to an H.264 MP4 through Blender's own FFmpeg; on_frame() is
    called after each frame is written."""
    _configure(scene, engine, size)
    settings = scene.render.image_settings
    settings.media_type = 'VIDEO'
    settings.file_format = 'FFMPEG'
    scene.render.ffmpeg.format = 'MPEG4'
    scene.render.ffmpeg.codec = 'H264'
    scene.render.ffmpeg.constant_rate_factor = 'MEDIUM'
    # the sequencer's sound strips (a speech take's recording) are mixed into the video
    has_sound = scene.sequence_editor is not None and any(s.type == 'SOUND' for s in scene.sequence_editor.strips)
    scene.render.ffmpeg.audio_codec = 'AAC' if has_sound else 'NONE'
    scene.render.filepath = str(path)
    scene.render.use_file_extension = False
    handler = (lambda *_: on_frame()) if on_frame else None
    if handler:
        bpy.app.handlers.render_write.append(handler)
    try:
        bpy.ops.render.render(animation=True)
    finally:
        if handler:
            bpy.app.handlers.render_write.remove(handler)
    return Path(path)

"""The benches' render scene: a fresh empty file with one head (the default or a variant mesh), the
preview's camera and light, Workbench (or Cycles set up as the preview's but at 32 samples, denoised,
where the preview takes 16 undenoised), PNG stills on an opaque background."""

import bpy


def head_scene(head_mesh, width: int, height: int | None = None, engine: str = "workbench"):
    """-> (scene, head object)."""
    from emotive.headless.preview import _configure, ensure_camera_and_light
    from emotive.rigs.blender.head import create_default_head

    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    obj = create_default_head(scene.collection, head=head_mesh)
    ensure_camera_and_light(scene, obj)
    _configure(scene, engine, width)
    if engine == "cycles":
        scene.cycles.samples = 32
        scene.cycles.use_denoising = True  # a clean still: grain would be read as skin texture
    scene.render.resolution_y = height or width
    scene.render.image_settings.media_type = 'IMAGE'
    scene.render.image_settings.file_format = 'PNG'
    scene.render.film_transparent = False
    return scene, obj

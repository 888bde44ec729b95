"""Blender adapter: build the default head (mesh, 52 ARKit shape keys, materials) in bpy.

The skin material reads the generated skin texture (rigs/data/default_head_skin.jpg: eyebrows, lip
colour, lash lines; rigs/head_texture.py) through the head's UV map: an Image Texture node into the
Principled BSDF's Base Color for Cycles/EEVEE, and the active image node for Workbench's and the
viewport's *Texture* colour. The image is packed, so a saved .blend carries it."""

from __future__ import annotations

import os

import bpy

from ..arkit import ARKIT_NAMES
from ..head_mesh import HeadMesh, load_default_head
from ..head_texture import TEXTURE_PATH

# Base colours (linear RGB) and roughness per material name of the asset; the skin's colour is
# the texture's plain skin tone (what Workbench's Material colour and a missing image show).
_MATERIALS = {
    "skin": ((0.73, 0.44, 0.32), 0.5),
    "eyes": ((0.85, 0.85, 0.82), 0.15),
    "iris": ((0.09, 0.045, 0.02), 0.1),
    "teeth": ((0.85, 0.80, 0.68), 0.3),
    "tongue": ((0.55, 0.15, 0.14), 0.45),
}


def _material(name: str) -> bpy.types.Material:
    color, roughness = _MATERIALS.get(name, ((0.8, 0.8, 0.8), 0.5))
    mat = bpy.data.materials.new(f"Emotive {name.capitalize()}")
    mat.diffuse_color = (*color, 1.0)  # what Workbench and the viewport's solid mode show
    mat.roughness = roughness
    if not mat.node_tree:  # Blender 5 creates the node tree itself; older ones need use_nodes
        mat.use_nodes = True
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Base Color"].default_value = (*color, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    if name == "skin":  # a little subsurface keeps Cycles/EEVEE skin from looking like plastic
        bsdf.inputs["Subsurface Weight"].default_value = 0.1
        bsdf.inputs["Subsurface Radius"].default_value = (1.0, 0.35, 0.2)
        bsdf.inputs["Subsurface Scale"].default_value = 0.005
        if os.path.exists(TEXTURE_PATH):
            _texture(mat, bsdf)
    return mat


_TEXTURE_NAME = os.path.basename(TEXTURE_PATH)


def _skin_image() -> bpy.types.Image:
    """The skin texture, loaded once per file and packed into it."""
    image = next((im for im in bpy.data.images if im.get("emotive_skin") == _TEXTURE_NAME), None)
    if image is None:
        image = bpy.data.images.load(TEXTURE_PATH)
        image.name = "Emotive Skin"
        image["emotive_skin"] = _TEXTURE_NAME
        image.pack()
    return image


def _texture(mat: bpy.types.Material, bsdf) -> None:
    nodes = mat.node_tree.nodes
    tex = nodes.new("ShaderNodeTexImage")
    tex.name = tex.label = "Emotive Skin Texture"
    tex.image = _skin_image()
    tex.interpolation = 'Cubic'
    tex.location = (bsdf.location.x - 320, bsdf.location.y)
    mat.node_tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    nodes.active = tex  # Workbench's and the viewport's Texture colour show the active image node


def create_default_head(collection: bpy.types.Collection | None = None, name: str = "Emotive Head",
                        head: HeadMesh | None = None) -> bpy.types.Object:
    """Create the default head object with Basis + the 52 ARKit shape keys; returns the object."""
    head = head or load_default_head()
    mesh = bpy.data.meshes.new(name)
    n_verts, n_loops, n_polys = len(head.vertices), len(head.loop_vertices), len(head.loop_totals)
    mesh.vertices.add(n_verts)
    mesh.loops.add(n_loops)
    mesh.polygons.add(n_polys)
    mesh.vertices.foreach_set("co", head.vertices.ravel())
    mesh.loops.foreach_set("vertex_index", head.loop_vertices)
    mesh.polygons.foreach_set("loop_start", head.loop_starts)  # totals follow from the starts
    mesh.polygons.foreach_set("material_index", head.material_index)
    if head.uvs is not None:
        mesh.uv_layers.new(name="UVMap").data.foreach_set("uv", head.uvs.ravel())
    mesh.update(calc_edges=True)
    mesh.shade_smooth()
    for mat_name in head.material_names:
        mesh.materials.append(_material(mat_name))

    obj = bpy.data.objects.new(name, mesh)
    (collection or bpy.context.scene.collection).objects.link(obj)

    obj.shape_key_add(name="Basis", from_mix=False)
    for key in ARKIT_NAMES:
        kb = obj.shape_key_add(name=key, from_mix=False)
        kb.slider_min, kb.slider_max = 0.0, 1.0
        kb.value = 0.0  # new keys start at 1.0 in Blender; the head must load neutral
        kb.data.foreach_set("co", (head.vertices + head.shape_keys[key]).ravel())
    mesh.shape_keys.name = f"{name} Keys"
    return obj

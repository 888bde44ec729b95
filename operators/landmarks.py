"""Manual landmark placement: edit the 70 landmarks as empties, guided clicking, mirror, apply.

The work is in rigs/blender/landmark_placement.py; these operators act on the panel's target.
"""

import bpy

from ..errors import EmotiveError
from .explain import OnMeshTarget


def _target(context):
    obj = context.scene.emotive.target
    return obj if obj is not None and obj.type == 'MESH' else None


class _WhileEditing(OnMeshTarget):
    @classmethod
    def disabled_reason(cls, context):
        from ..rigs.blender.landmark_placement import landmark_collection

        reason = super().disabled_reason(context)
        if not reason and landmark_collection(_target(context)) is None:
            reason = "no landmarks being edited: click Edit Landmarks or Guided Placement first"
        return reason


class EMOTIVE_OT_edit_landmarks(OnMeshTarget, bpy.types.Operator):
    """Show the target's 70 face landmarks as empties to move by hand: from its binding, or a first guess when it has none"""

    bl_idname = "emotive.edit_landmarks"
    bl_label = "Edit Landmarks"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        from ..rigs.blender.landmark_placement import edit_landmarks

        obj = _target(context)
        try:
            done = edit_landmarks(obj, context.scene)
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        if done["problem"]:
            self.report({'WARNING'}, f"Stored binding not used: {done['problem']}")
        where = {"binding": "its binding", "guess": "a first guess: place the 5 cube guides "
                 "(pupils, nose tip, mouth corners) and press Fit to Guides, or use Guided "
                 "Placement", "resumed": "where they were"}[done["source"]]
        self.report({'INFO'}, f"{done['created']} landmark empties on '{obj.name}' from {where}")
        return {'FINISHED'}


class EMOTIVE_OT_guided_landmarks(OnMeshTarget, bpy.types.Operator):
    """Place the face landmarks one by one by clicking on the mesh, guides first (Backspace: back, M: mirror, Enter: finish, Esc: cancel)"""

    bl_idname = "emotive.guided_landmarks"
    bl_label = "Guided Placement"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        self.report({'ERROR'}, "Guided Placement is interactive: start it from the Emotive panel "
                               "with the mouse over a 3D Viewport (scripts: use "
                               "rigs.blender.landmark_placement.GuidedPlacement)")
        return {'CANCELLED'}

    def invoke(self, context, event):
        from ..rigs.blender.landmark_placement import GuidedPlacement

        if context.area is None or context.area.type != 'VIEW_3D':
            self.report({'ERROR'}, "Guided Placement needs the mouse over a 3D Viewport")
            return {'CANCELLED'}
        settings = context.scene.emotive_landmarks
        try:
            self._session = GuidedPlacement(_target(context), settings.mirror, settings.symmetry,
                                            context.scene)
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self._message = ""
        # The view it was started in (from the sidebar's button, context.region is the sidebar):
        # its main region and 3D view take the clicks.
        self._area = context.area
        self._region = next(r for r in context.area.regions if r.type == 'WINDOW')
        self._rv3d = context.area.spaces.active.region_3d
        self._show(context)
        context.window_manager.modal_handler_add(self)
        return {'RUNNING_MODAL'}

    def _show(self, context):
        s = self._session
        text = (f"Emotive: {s.prompt()}  |  Mirror {'on' if s.mirror else 'off'} (M)  |  "
                "Backspace back  |  Enter finish  |  Esc cancel"
                + (f"  |  {self._message}" if self._message else ""))
        self._area.header_text_set(text)
        if context.workspace:
            context.workspace.status_text_set(text)
        self._area.tag_redraw()

    def _stop(self, context):
        self._area.header_text_set(None)
        if context.workspace:
            context.workspace.status_text_set(None)
        self._area.tag_redraw()

    def _in_view(self, event) -> tuple | None:
        """The mouse in the 3D view's main region's pixels, or None outside it."""
        r = self._region
        x, y = event.mouse_x - r.x, event.mouse_y - r.y
        return (x, y) if 0 <= x < r.width and 0 <= y < r.height else None

    def _ray_point(self, context, coord):
        """The world-space point under `coord` on the target's evaluated surface, or None."""
        from bpy_extras import view3d_utils

        obj = self._session.obj
        region, rv3d = self._region, self._rv3d
        origin = view3d_utils.region_2d_to_origin_3d(region, rv3d, coord)
        direction = view3d_utils.region_2d_to_vector_3d(region, rv3d, coord)
        inv = obj.matrix_world.inverted()
        o = inv @ origin
        d = (inv.to_3x3() @ direction).normalized()
        hit, loc, _, _ = obj.ray_cast(o, d, depsgraph=context.evaluated_depsgraph_get())
        return obj.matrix_world @ loc if hit else None

    def modal(self, context, event):
        s = self._session
        if event.type in {'MIDDLEMOUSE', 'WHEELUPMOUSE', 'WHEELDOWNMOUSE', 'TRACKPADPAN',
                          'TRACKPADZOOM'} or event.type.startswith('NDOF') or (
                event.type.startswith('NUMPAD_') and event.type != 'NUMPAD_ENTER'):
            return {'PASS_THROUGH'}   # navigation keeps working
        if event.value != 'PRESS':
            return {'RUNNING_MODAL'} if event.type != 'MOUSEMOVE' else {'PASS_THROUGH'}
        try:
            if event.type == 'LEFTMOUSE':
                coord = self._in_view(event)
                if coord is None:
                    return {'PASS_THROUGH'}   # the sidebar, header, other areas keep working
                if s.current is None:
                    self._message = "all placed: Enter to finish"
                else:
                    point = self._ray_point(context, coord)
                    if point is None:
                        self._message = "missed the mesh: click on its surface"
                    else:
                        s.place_next(point)
                        self._message = ""
            elif event.type == 'BACK_SPACE':
                self._message = "" if s.back() else "nothing to undo"
            elif event.type == 'M':
                s.set_mirror(not s.mirror)
            elif event.type in {'RET', 'NUMPAD_ENTER'}:
                self._stop(context)
                self.report({'INFO'}, f"Placed {len(s.placed)} landmarks: adjust the empties if "
                                      "needed, then Apply Landmarks")
                return {'FINISHED'}
            elif event.type in {'ESC', 'RIGHTMOUSE'}:
                s.cancel()
                self._stop(context)
                return {'CANCELLED'}
        except EmotiveError as exc:   # e.g. the empties were deleted or applied meanwhile
            self._stop(context)
            try:
                s.cancel()
            except EmotiveError:
                pass
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self._show(context)
        return {'RUNNING_MODAL'}


class EMOTIVE_OT_fit_landmarks_to_guides(_WhileEditing, bpy.types.Operator):
    """Re-place every landmark from the 5 cube guides (pupils, nose tip, mouth corners): the default head's landmarks fitted to them and snapped onto the surface"""

    bl_idname = "emotive.fit_landmarks_to_guides"
    bl_label = "Fit to Guides"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        from ..rigs.blender.landmark_placement import fit_guides

        try:
            moved = fit_guides(_target(context))
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self.report({'INFO'}, f"Re-placed {len(moved)} landmarks from the 5 guides")
        return {'FINISHED'}


class EMOTIVE_OT_symmetrize_landmarks(_WhileEditing, bpy.types.Operator):
    """Mirror landmarks onto the other side of the face (snapped onto the surface); centre-line landmarks move onto the symmetry plane"""

    bl_idname = "emotive.symmetrize_landmarks"
    bl_label = "Symmetrize Landmarks"
    bl_options = {'REGISTER', 'UNDO'}

    source: bpy.props.EnumProperty(
        name="Copy", default='SELECTED',
        items=[('SELECTED', "Selected", "The selected landmark empties onto their partners"),
               ('RIGHT', "Right to Left", "The subject's right side (on screen: left, x < 0 on "
                                          "a face looking -Y) onto the left"),
               ('LEFT', "Left to Right", "The subject's left side onto the right")])

    def execute(self, context):
        from ..rigs.blender.landmark_placement import symmetrize

        try:
            moved = symmetrize(_target(context), self.source,
                               context.scene.emotive_landmarks.symmetry)
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self.report({'INFO'}, f"Mirrored onto {len(moved)} landmarks")
        return {'FINISHED'}


class EMOTIVE_OT_apply_landmarks(_WhileEditing, bpy.types.Operator):
    """Snap the landmark empties onto the surface, store them as the mesh's landmark binding (survives saving) and remove the empties"""

    bl_idname = "emotive.apply_landmarks"
    bl_label = "Apply Landmarks"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        from ..rigs.blender.landmark_placement import apply_landmarks

        obj = _target(context)
        try:
            _, report = apply_landmarks(obj)
        except EmotiveError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self.report({'INFO'}, f"Bound 70 landmarks (and MediaPipe's 478) on '{obj.name}' by hand; "
                              f"they differ from the default head's proportions by "
                              f"{report['shape_rms_mm']:.1f} mm RMS")
        return {'FINISHED'}


class EMOTIVE_OT_discard_landmarks(_WhileEditing, bpy.types.Operator):
    """Remove the landmark empties without storing them (the mesh keeps its binding as it was)"""

    bl_idname = "emotive.discard_landmarks"
    bl_label = "Discard Landmarks"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        from ..rigs.blender.landmark_placement import discard_landmarks

        discard_landmarks(_target(context))
        return {'FINISHED'}


classes = (EMOTIVE_OT_edit_landmarks, EMOTIVE_OT_guided_landmarks,
           EMOTIVE_OT_fit_landmarks_to_guides, EMOTIVE_OT_symmetrize_landmarks,
           EMOTIVE_OT_apply_landmarks, EMOTIVE_OT_discard_landmarks)

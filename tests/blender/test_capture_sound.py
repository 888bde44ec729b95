"""*Import Face Capture* of a video that has sound, in real Blender: the sound plays from the
take's first frame in the sequencer, and *Emotion From Its Sound* migrates the face toward the
emotion heard in it."""

import bpy
import numpy as np
import pytest

from blender_helpers import peak, take_curves
from shared_fixtures import drawn_face, shared, with_sound, write_video

pytest.importorskip("mediapipe")


@pytest.fixture
def talking_video(tmp_path):
    clip = shared("speech/ravdess16k/Actor_01/03-01-05-02-01-01-01.flac")   # strong anger
    faces = [drawn_face(jaw=0.5 + 0.5 * np.sin(i / 3)) for i in range(125)]
    path, _ = with_sound(write_video(tmp_path / "picture.mp4", frames=faces, fps=30), clip, tmp_path / "talk.mp4")
    return path


def test_the_videos_sound_plays_with_the_take_and_its_anger_reaches_the_brows(head, talking_video):
    scene = bpy.context.scene
    scene.render.fps = 30
    scene.emotive.target = head
    assert bpy.ops.emotive.import_capture('EXEC_DEFAULT', filepath=str(talking_video), smoothing=0.0) == {'FINISHED'}
    (strip,) = [s for s in scene.sequence_editor.strips if s.type == 'SOUND']
    assert strip.frame_start == scene.frame_start and bpy.path.abspath(strip.sound.filepath).endswith("talk.mp4")
    plain = peak(take_curves(head), "browDownLeft", scene.frame_start, scene.frame_end)
    assert bpy.ops.emotive.import_capture('EXEC_DEFAULT', filepath=str(talking_video), smoothing=0.0,
                                          emotion_from_sound=True) == {'FINISHED'}
    assert len([s for s in scene.sequence_editor.strips if s.type == 'SOUND']) == 1    # the same strip, reused
    angry = peak(take_curves(head), "browDownLeft", scene.frame_start, scene.frame_end)
    assert angry > plain + 0.2
    assert {r.emotion for r in scene.emotive.results} == {"anger"}

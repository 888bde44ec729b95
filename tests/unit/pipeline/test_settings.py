"""The user's settings file, shared by the add-on's preferences and the command line (bpy-free)."""

import json
import subprocess
import sys

import pytest

from emotive.errors import EmotiveError
from emotive.headless import build_parser, job_from_args, main
from emotive.headless.jobfile import read_job_file
from emotive.pipeline import settings


@pytest.fixture
def settings_file(tmp_path, monkeypatch):
    path = tmp_path / "config" / "settings.json"
    monkeypatch.setenv(settings.ENV, str(path))
    return path


def test_a_missing_file_means_the_defaults(settings_file):
    assert settings.load() == settings.Settings()
    assert settings.load().model("text") is None


def test_the_file_keeps_only_what_differs_from_the_defaults(settings_file):
    settings.update(fps=24, wpm=120.0)
    assert json.loads(settings_file.read_text()) == {"fps": 24.0, "wpm": 120.0}
    assert settings.load().fps == 24.0 and settings.load().alpha_face == 1.0
    settings.update(fps=30.0)
    assert json.loads(settings_file.read_text()) == {"wpm": 120.0}


@pytest.mark.parametrize("text, message", [
    ('{"fps": 30', "line 1: not valid JSON"),
    ('[1, 2]', "one JSON object"),
    ('{"fps": 0}', "'fps' must be a number from 1 to 240, got 0"),
    ('{"wpm": NaN}', "'wpm' must be a number"),
    ('{"alpha_mouth": "0.3"}', "'alpha_mouth' must be a number"),
    ('{"fps": true}', "'fps' must be a number"),
    ('{"text_model": 3}', "'text_model' must be a text"),
    ('{"frame_rate": 24}', "unknown setting 'frame_rate'"),
], ids=["truncated", "not an object", "fps 0", "NaN", "number as text", "bool", "path not text", "unknown key"])
def test_a_bad_file_is_named_with_the_key_at_fault(settings_file, text, message):
    settings_file.parent.mkdir(parents=True)
    settings_file.write_text(text)
    with pytest.raises(EmotiveError, match=message) as error:
        settings.load()
    assert str(settings_file) in str(error.value)


def test_a_changed_file_is_read_again(settings_file):
    settings.update(wpm=100.0)
    assert settings.load().wpm == 100.0
    settings_file.write_text('{"wpm": 200, "fps": 25}')      # another process (Blender) wrote it
    assert settings.load().wpm == 200.0 and settings.load().fps == 25.0


def test_the_cache_folder_is_the_setting_or_the_systems(settings_file, tmp_path):
    assert settings.load().cache("x") == settings.default_cache_dir() / "x"
    settings.update(cache_dir=str(tmp_path / "mine"))
    assert settings.load().cache("voices") == tmp_path / "mine" / "voices"
    assert (tmp_path / "mine" / "voices").is_dir()


def test_command_line_defaults_come_from_the_settings(settings_file, tmp_path):
    model = tmp_path / "mine.safetensors"
    model.write_bytes(b"")
    settings.update(fps=24.0, wpm=120.0, alpha_mouth=0.5, expression_model=str(model))
    args = build_parser().parse_args(["text", "--text", "Hello there.", "--out", str(tmp_path / "a.blend")])
    assert (args.fps, args.wpm, args.alpha_mouth, args.expression_model) == (24.0, 120.0, 0.5, model)
    job = job_from_args(args)
    assert job.inputs["fps"] == 24.0 and job.inputs["wpm"] == 120.0
    assert job.inputs["expression_model_path"] == str(model)
    flags = build_parser().parse_args(["text", "--text", "Hi.", "--fps", "50", "--out", str(tmp_path / "b.blend")])
    assert flags.fps == 50.0                                   # a flag beats the setting


def test_a_setting_naming_a_missing_model_says_so(settings_file, tmp_path, capfd):
    settings.update(text_model=str(tmp_path / "gone.safetensors"))
    assert main(["text", "--text", "Hello.", "--out", str(tmp_path / "a.blend")]) == 2
    err = capfd.readouterr().err
    assert "gone.safetensors" in err and "text_model in the settings file" in err and str(settings_file) in err


def test_a_broken_settings_file_stops_the_command_line_with_exit_2(settings_file, tmp_path, capsys):
    settings_file.parent.mkdir(parents=True)
    settings_file.write_text('{"fps": 30,}')
    assert main(["text", "--text", "Hello.", "--out", str(tmp_path / "a.blend")]) == 2
    assert str(settings_file) in capsys.readouterr().err
    assert not (tmp_path / "a.blend").exists()


def test_the_settings_command_shows_sets_resets_and_mends(settings_file, capsys, monkeypatch):
    assert main(["settings", "--set", "fps=25", "--set", "alpha-face=0.8"]) == 0
    shown = capsys.readouterr().out
    assert str(settings_file) in shown and json.loads(shown.split("\n", 1)[1])["fps"] == 25.0
    assert settings.load().alpha_face == 0.8
    assert main(["settings", "--set", "fps=1000"]) == 2
    assert "'fps' must be a number from 1 to 240" in capsys.readouterr().err
    assert main(["settings", "--set", "speed=2"]) == 2
    assert main(["settings", "--reset", "fps"]) == 0 and settings.load().fps == 30.0
    monkeypatch.chdir(settings_file.parent)
    assert main(["settings", "--set", "text_model=mine.safetensors"]) == 0      # stored absolute
    assert settings.load().text_model == str(settings_file.parent / "mine.safetensors")
    settings_file.write_text("{oops")
    assert main(["settings", "--reset", "all"]) == 0
    assert settings.load() == settings.Settings()


def test_batch_jobs_carry_the_settings_so_every_worker_means_the_same(settings_file, tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"id": "a", "text": "Hello.", "outputs": ["a.glb"]}) + "\n"
                    + json.dumps({"id": "b", "text": "Hello.", "fps": 50, "outputs": ["b.glb"]}) + "\n")
    before = {j.id: j for j in read_job_file(jobs, tmp_path / "out")}
    settings.update(fps=24.0, wpm=100.0)
    after = {j.id: j for j in read_job_file(jobs, tmp_path / "out")}
    argv = after["a"].argv
    assert argv[argv.index("--fps") + 1] == "24.0" and argv[argv.index("--wpm") + 1] == "100.0"
    assert after["b"].argv.count("--fps") == 1 and "50" in after["b"].argv    # the spec's own value wins
    assert after["a"].digest != before["a"].digest          # a re-run redoes jobs the change affects


def test_the_settings_file_is_where_the_environment_says_or_the_platforms(settings_file, monkeypatch):
    assert settings.settings_path() == settings_file
    monkeypatch.delenv(settings.ENV)
    out = subprocess.run([sys.executable, "-c", "from emotive.pipeline import settings; print(settings.settings_path())"],
                         capture_output=True, text=True, check=True, env={"HOME": "/home/someone", "PATH": ""})
    assert out.stdout.strip().endswith("emotive/settings.json")


def test_a_bad_change_leaves_the_file_as_it_was(settings_file):
    settings.update(wpm=120.0, text_model="/models/t.safetensors")
    before = settings_file.read_text()
    assert main(["settings", "--reset", "all", "--set", "fps=1000"]) == 2
    assert main(["settings", "--reset", "all", "--reset", "bogus"]) == 2
    assert main(["settings", "--reset", "cache"]) == 2        # a method of Settings, not a setting
    assert settings_file.read_text() == before


def test_numbers_too_large_and_unwritable_files_are_errors_not_tracebacks(settings_file, tmp_path, monkeypatch):
    settings_file.parent.mkdir(parents=True)
    settings_file.write_text('{"fps": 1' + "0" * 400 + "}")
    with pytest.raises(EmotiveError, match="'fps' must be a number"):
        settings.load()
    settings_file.write_text('{"fps": 1' + "0" * 5000 + "}")
    with pytest.raises(EmotiveError, match="not valid settings"):
        settings.load()
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    monkeypatch.setenv(settings.ENV, str(blocker / "settings.json"))
    with pytest.raises(EmotiveError, match="cannot write the settings file"):
        settings.update(fps=24.0)

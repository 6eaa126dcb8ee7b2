from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import load_settings
from assistant.errors import ConfigError

CONFIG = """
profile = "ollama"

[defaults]
max_steps = 5
temperature = 0

[profiles.ollama]
base_url = "http://127.0.0.1:11434/v1"
model = "qwen2.5-coder:1.5b"

[profiles.hosted]
base_url = "https://api.example.com/v1"
model = "big-model"
api_key_env = "EXAMPLE_KEY"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_no_config_means_local_model(tmp_path: Path) -> None:
    s = load_settings(env={}, path=tmp_path / "missing.toml")
    assert s.is_local and s.base_url is None and s.recognise_text_calls


def test_profile_from_file_with_defaults(tmp_path: Path) -> None:
    s = load_settings(env={}, path=write(tmp_path, CONFIG))
    assert s.base_url == "http://127.0.0.1:11434/v1" and s.model == "qwen2.5-coder:1.5b"
    assert s.max_steps == 5 and s.temperature == 0.0
    assert not s.is_local and not s.recognise_text_calls
    assert s.sources["model"].endswith("[ollama]")


def test_flags_beat_environment_beat_file(tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG)
    env = {"OPENAI_BASE_URL": "http://env:1/v1", "ASSISTANT_MODEL": "env-model", "OPENAI_API_KEY": "sk-env"}
    s = load_settings({"model": "flag-model"}, env=env, path=path)
    assert (s.base_url, s.model, s.api_key) == ("http://env:1/v1", "flag-model", "sk-env")
    assert s.sources["model"] == "flag" and s.sources["base_url"] == "environment"


def test_profile_flag_and_api_key_env(tmp_path: Path) -> None:
    s = load_settings({"profile": "hosted"}, env={"EXAMPLE_KEY": "sk-123"}, path=write(tmp_path, CONFIG))
    assert s.model == "big-model" and s.api_key == "sk-123" and s.profile == "hosted"


def test_unknown_profile_lists_profiles(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Profiles defined: hosted, ollama"):
        load_settings({"profile": "nope"}, env={}, path=write(tmp_path, CONFIG))


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[profiles.x]\nbase_url = "http://a/v1"\nmodel = \n', "line 3"),
        ("[defaults]\nmax_stepz = 3\n", "unknown setting 'max_stepz'"),
        ('[defaults]\nmax_steps = "many"\n', "'max_steps' in [defaults] must be int"),
        ("colour = 1\n", "unknown top-level key 'colour'"),
        ("[defaults]\ntext_tool_calls = 1\n", "must be bool"),
    ],
)
def test_corrupt_config_says_file_line_and_what(tmp_path: Path, text: str, needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(env={}, path=path)
    assert str(path) in str(info.value) and needle in str(info.value)

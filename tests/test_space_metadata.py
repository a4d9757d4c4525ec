"""The README front matter of every rendered repo is one Hugging Face accepts for a Docker Space.

Allowed values as Hugging Face documents them:
- Spaces configuration reference: https://huggingface.co/docs/hub/spaces-config-reference
  (title, emoji "emoji-only character allowed", colorFrom/colorTo from eight colours,
  sdk gradio/streamlit/docker/static, app_port an int, default 7860).
- License identifiers: https://huggingface.co/docs/hub/repositories-licenses
- short_description: shown on the Space card; the Hub refuses more than 60 characters.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml
from conftest import MATRIX, front_matter, matrix_id

HF_COLORS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
HF_SDKS = {"gradio", "streamlit", "docker", "static"}
# The "License identifier (to use in repo card)" column of repositories-licenses.
# fmt: off
HF_LICENSES = {
    "apache-2.0", "mit", "openrail", "bigscience-openrail-m", "creativeml-openrail-m",
    "bigscience-bloom-rail-1.0", "bigcode-openrail-m", "afl-3.0", "artistic-2.0", "bsl-1.0",
    "bsd", "bsd-2-clause", "bsd-3-clause", "bsd-3-clause-clear", "c-uda", "cc", "cc0-1.0",
    "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0",
    "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-3.0",
    "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0",
    "cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0",
    "epl-1.0", "epl-2.0", "etalab-2.0", "eupl-1.1", "agpl-3.0", "gfdl", "gpl", "gpl-2.0",
    "gpl-3.0", "lgpl", "lgpl-2.1", "lgpl-3.0", "isc", "lppl-1.3c", "ms-pl", "mpl-2.0", "odc-by",
    "odbl", "openrail++", "osl-3.0", "postgresql", "ofl-1.1", "ncsa", "unlicense", "zlib",
    "pddl", "lgpl-lr", "deepfloyd-if-license", "llama2", "gemma", "unknown", "other",
}
# fmt: on
SHORT_DESCRIPTION_MAX = 60

# Code points that make up emoji: pictographs, symbols, regional indicators (flags) ...
# fmt: off
EMOJI_BASES = [
    (0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2300, 0x23FF), (0x2B00, 0x2BFF),
    (0x2190, 0x21FF), (0x25A0, 0x25FF), (0x2934, 0x2935), (0x3030, 0x3030), (0x303D, 0x303D),
    (0x3297, 0x3297), (0x3299, 0x3299), (0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x203C),
    (0x2049, 0x2049), (0x2122, 0x2122), (0x2139, 0x2139), (0x24C2, 0x24C2),
]
# fmt: on
# ... and what may follow one inside the same emoji: variation selector 16, skin tones,
# the keycap mark and tag characters (subdivision flags).
EMOJI_MODIFIERS = [(0xFE0F, 0xFE0F), (0x1F3FB, 0x1F3FF), (0x20E3, 0x20E3), (0xE0020, 0xE007F)]
ZWJ = "\u200d"


def _in(ranges: list[tuple[int, int]], char: str) -> bool:
    return any(lo <= ord(char) <= hi for lo, hi in ranges)


def is_single_emoji(text: str) -> bool:
    """One emoji: a base with its modifiers, ZWJ sequences of those, or a flag (two RIs)."""
    if not text:
        return False
    for part in text.split(ZWJ):
        if not part or not _in(EMOJI_BASES, part[0]):
            return False
        rest = part[1:]
        if 0x1F1E6 <= ord(part[0]) <= 0x1F1FF:  # regional indicators come in pairs: a flag
            if not rest or not 0x1F1E6 <= ord(rest[0]) <= 0x1F1FF:
                return False
            rest = rest[1:]
        if not all(_in(EMOJI_MODIFIERS, c) for c in rest):
            return False
    return True


def check_space_card(meta: dict) -> None:
    assert meta["sdk"] == "docker" and meta["sdk"] in HF_SDKS
    assert type(meta["app_port"]) is int and 1 <= meta["app_port"] <= 65535
    assert meta["colorFrom"] in HF_COLORS, meta["colorFrom"]
    assert meta["colorTo"] in HF_COLORS, meta["colorTo"]
    assert meta["license"] in HF_LICENSES, meta["license"]
    assert isinstance(meta["title"], str) and meta["title"].strip()
    assert isinstance(meta["short_description"], str)
    assert len(meta["short_description"]) <= SHORT_DESCRIPTION_MAX, meta["short_description"]
    assert isinstance(meta["emoji"], str) and is_single_emoji(meta["emoji"]), meta["emoji"]
    # "Set a custom startup timeout ... Default: 30m": a number with m or h (hub-docs).
    if "startup_duration_timeout" in meta:
        assert re.fullmatch(r"[1-9][0-9]*[mh]", meta["startup_duration_timeout"]), meta
    assert isinstance(meta.get("pinned", False), bool)
    # "models: HF model IDs (like openai-community/gpt2 ...) used in the Space" (hub-docs).
    for model in meta.get("models", []):
        assert re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", model), model


def test_the_emoji_check_knows_one_emoji_from_others():
    for good in ["🔎", "🚀", "❤️", "👩‍💻", "🇫🇷", "👍🏽", "🏴‍☠️", "☕"]:
        assert is_single_emoji(good), good
    for bad in ["", "a", "🔎🚀", "🔎 ", ":)", "1", "🇫", "🔎a"]:
        assert not is_single_emoji(bad), bad


def test_every_license_the_template_offers_is_a_hugging_face_license_id():
    copier = yaml.safe_load((__import__("conftest").TEMPLATE / "copier.yml").read_text())
    offered = set(copier["license"]["choices"])
    assert offered <= HF_LICENSES, offered - HF_LICENSES
    assert set(copier["color_from"]["choices"]) == HF_COLORS
    assert set(copier["color_to"]["choices"]) == HF_COLORS


@pytest.mark.parametrize("answers", MATRIX, ids=matrix_id)
def test_every_rendered_readme_is_a_valid_docker_space_card(render, answers):
    meta = front_matter(render(**answers))
    check_space_card(meta)
    assert meta["app_port"] == 7860  # the default answer, and Hugging Face's default
    # The first start builds the index: the timeout that stops it is in plain sight.
    transformer = answers.get("embedder") == "sentence-transformers"
    expected = ("1h" if transformer else "30m") if answers["use_faiss"] else None
    assert meta.get("startup_duration_timeout") == expected
    answer_step = answers["use_faiss"] and answers.get("answers", False)
    assert meta.get("models") == (["openai/gpt-oss-120b"] if answer_step else None)


@pytest.mark.parametrize(
    "chat_model",
    ["Qwen/Qwen2.5-7B-Instruct", "openai/gpt-oss-120b:cheapest", "deepseek-ai/DeepSeek-R1:novita"],
)
def test_the_card_links_the_chat_model_without_its_provider_suffix(render, chat_model):
    meta = front_matter(render(answers=True, chat_model=chat_model))
    check_space_card(meta)
    assert meta["models"] == [chat_model.split(":")[0]]


ODD_ANSWERS = [
    {"project_name": 'Tom\'s "Search": #1 — ünïcode', "emoji": "👩‍💻"},
    {"project_name": "x", "short_description": "A" * SHORT_DESCRIPTION_MAX, "emoji": "🇫🇷"},
    {"short_description": "key: value # not a comment - [not, a, list]", "emoji": "❤️"},
    {"short_description": "", "license": "other", "color_from": "gray", "color_to": "red"},
    {"project_name": "yes", "short_description": "null", "port": "65535", "emoji": "☕"},
    {"project_name": "  padded  ", "license": "cc-by-nc-4.0", "port": "1024"},
    {"project_name": "0.10", "space_slug": "v0.10", "license": "unlicense"},
]


@pytest.mark.parametrize("answers", ODD_ANSWERS, ids=lambda a: "-".join(sorted(a)))
def test_odd_answers_still_give_a_valid_card_with_the_answers_unchanged(render, answers):
    meta = front_matter(render(**answers))
    check_space_card(meta)
    if "project_name" in answers:
        assert meta["title"].strip() == answers["project_name"].strip()
    if "short_description" in answers:
        assert meta["short_description"] == answers["short_description"]
    if "emoji" in answers:
        assert meta["emoji"] == answers["emoji"]
    if "port" in answers:
        assert meta["app_port"] == int(answers["port"])
    for key, field in [
        ("license", "license"),
        ("color_from", "colorFrom"),
        ("color_to", "colorTo"),
    ]:
        if key in answers:
            assert meta[field] == answers[key]


# The patterns Hugging Face writes into the .gitattributes of a new repository.
# fmt: off
HF_LFS_PATTERNS = [
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib",
    "*.lfs.*", "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot",
    "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors",
    "saved_model/**/*", "*.tar.*", "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip",
    "*.zst", "*tfevents*",
]
# fmt: on


@pytest.mark.parametrize("use_faiss", [True, False])
def test_large_and_binary_files_go_to_lfs_as_in_a_new_space(render, tmp_path, use_faiss):
    project = render(use_faiss=use_faiss)
    lines = (project / ".gitattributes").read_text().splitlines()
    patterns = [line.split()[0] for line in lines if line and not line.startswith("#")]
    extra = ["*.pdf", "*.faiss", "*.sqlite"] if use_faiss else []
    assert patterns == HF_LFS_PATTERNS + extra
    # git itself reads them so: a weights file, a shipped index and a PDF corpus go to LFS.
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".gitattributes").write_text((project / ".gitattributes").read_text())
    subprocess.run(["git", "init", "-q", repo], check=True)
    paths = ["models/m/model.safetensors", "data/guide.pdf", "index/index.faiss", "app/main.py"]
    out = subprocess.run(
        ["git", "check-attr", "filter", "--", *paths],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lfs = [line.split(":")[0] for line in out.splitlines() if line.endswith(": lfs")]
    assert lfs == (paths[:3] if use_faiss else paths[:1])

"""Every question refuses a wrong answer with a message that says what is allowed, and writes
nothing; good answers render."""

from __future__ import annotations

import subprocess

import copier
import pytest
import yaml
from conftest import TEMPLATE, TOOLS

BAD_ANSWERS = [
    ("project_name", "", "must not be empty"),
    ("project_name", "   ", "must not be empty"),
    ("project_name", "two\nlines", "one line"),
    ("space_slug", "my space", "letters, digits"),
    ("space_slug", "-dash-first", "must not start with '-' or '.'"),
    ("space_slug", ".dot-first", "must not start with '-' or '.'"),
    ("space_slug", "a" * 97, "at most 96"),
    ("space_slug", "double--dash", "'--'"),
    ("space_slug", "repo.git", "'.git'"),
    ("short_description", "x" * 61, "at most 60"),
    ("short_description", "two\nlines", "one line"),
    ("hf_username", "-bad", "letters, digits and '-'"),
    ("hf_username", "has space", "letters, digits and '-'"),
    ("emoji", "", "one emoji"),
    ("emoji", "ab", "one emoji"),
    ("emoji", "🚀 go", "one emoji"),
    ("color_from", "orange", "not in ['red', 'yellow', 'green', 'blue'"),
    ("color_to", "black", "not in ['red', 'yellow', 'green', 'blue'"),
    ("license", "wtfpl", "not in ['apache-2.0'"),
    ("python_version", "3.9", "not in ['3.10', '3.11', '3.12', '3.13']"),
    ("port", 80, "from 1024 to 65535"),
    ("port", 1023, "from 1024 to 65535"),
    ("port", 70000, "from 1024 to 65535"),
    ("port", "abc", "from 1024 to 65535"),
    ("port", "7860.5", "from 1024 to 65535"),
    ("start_command", "", "must not be empty"),
    ("start_command", 'python -c "x"', "without double quotes"),
]

# Asked only with answers on (and use_faiss, its default).
ANSWER_STEP = {"answers": True}
BAD_ANSWER_STEP = [
    ("chat_model", "gpt-oss-120b", "a Hugging Face Hub id such as openai/gpt-oss-120b"),
    ("chat_model", "", "a Hugging Face Hub id"),
    ("chat_model", "openai/gpt oss", "a Hugging Face Hub id"),
    ("chat_model", "a/b/c", "one '/'"),
    ("chat_model", "openai/gpt-oss-120b:", "':fastest', ':cheapest', ':preferred'"),
    ("chat_model", "openai/gpt-oss-120b:Fastest", "lower-case letters, digits and '-'"),
    ("chat_model", "openai/gpt-oss-120b:groq:fastest", "':<provider>'"),
    ("chat_model", 'openai/"quoted"', "a Hugging Face Hub id"),
    ("chat_base_url", "router.huggingface.co/v1", "an http:// or https:// URL"),
    ("chat_base_url", "ftp://example.org/v1", "an http:// or https:// URL"),
    ("chat_base_url", "https://", "an http:// or https:// URL"),
    ("chat_base_url", "https://example.org/v 1", "without spaces, quotes or backslashes"),
    ("chat_base_url", 'https://example.org/"v1"', "without spaces, quotes or backslashes"),
    ("chat_base_url", "", "such as https://router.huggingface.co/v1"),
]
GOOD_ANSWER_STEP = [
    ("chat_model", "openai/gpt-oss-120b:fastest"),
    ("chat_model", "openai/gpt-oss-120b:cheapest"),
    ("chat_model", "openai/gpt-oss-120b:preferred"),
    ("chat_model", "moonshotai/Kimi-K2-Instruct-0905:groq"),
    ("chat_model", "deepseek-ai/DeepSeek-R1-0528:fireworks-ai"),
    ("chat_model", "Qwen/Qwen2.5-7B-Instruct"),
    ("chat_base_url", "http://localhost:8000/v1"),
    ("chat_base_url", "https://api.example.org/openai/v1"),
    ("chat_base_url", "http://127.0.0.1:11434/v1"),
]

GOOD_ANSWERS = [
    ("project_name", "Ünïcode Space ✨"),
    ("space_slug", "A_b.c-9"),
    ("space_slug", "a" * 96),
    ("short_description", "x" * 60),
    ("hf_username", "my-org"),
    ("hf_username", ""),
    ("emoji", "🚀"),
    ("emoji", "👩‍💻"),
    ("emoji", "🇫🇷"),
    ("color_from", "gray"),
    ("license", "mit"),
    ("python_version", "3.10"),
    ("port", 1024),
    ("port", 65535),
    ("start_command", "uvicorn app.main:app --host 0.0.0.0 --port $PORT"),
]


def copy(tmp_path, **data):
    dst = tmp_path / "project"
    copier.run_copy(
        str(TEMPLATE), dst, data=data, defaults=True, vcs_ref="HEAD", quiet=True, unsafe=False
    )
    return dst


# (question, answer, message, the answers that make Copier ask that question)
REFUSALS = [(*bad, {}) for bad in BAD_ANSWERS] + [(*bad, ANSWER_STEP) for bad in BAD_ANSWER_STEP]


@pytest.mark.parametrize(("question", "answer", "message", "asked_with"), REFUSALS)
def test_a_bad_answer_is_refused_with_what_is_allowed_and_nothing_is_written(
    tmp_path, question, answer, message, asked_with
):
    with pytest.raises(ValueError, match=question) as refused:
        copy(tmp_path, **asked_with, **{question: answer})
    assert message in str(refused.value)
    assert not (tmp_path / "project").exists()


@pytest.mark.parametrize(("question", "answer"), GOOD_ANSWER_STEP)
def test_a_good_answer_step_answer_renders_and_feeds_the_settings(tmp_path, question, answer):
    project = copy(tmp_path, **ANSWER_STEP, **{question: answer})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers[question] == answer
    assert f"{question.upper()}={answer}\n" in (project / ".env.example").read_text()
    assert f'"{answer}"' in (project / "app/settings.py").read_text()


def test_the_answer_step_is_asked_only_with_the_search_index(tmp_path):
    """Without use_faiss there is nothing to answer from: answers, chat_model and chat_base_url
    are not asked, and answers=true given anyway adds nothing (Copier still passes it on)."""
    project = copy(tmp_path, use_faiss=False, answers=True)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert {"answers", "chat_model", "chat_base_url"}.isdisjoint(answers)
    assert not (project / "app/answers.py").exists()
    assert "openai" not in (project / "requirements.txt").read_text()
    for path in project.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            text = path.read_text().lower()
            assert "chat_model" not in text and "api/answer" not in text, path
    assert ".modes" not in (project / "public/style.css").read_text()


@pytest.mark.parametrize(("question", "answer"), GOOD_ANSWERS)
def test_a_good_answer_renders_and_is_recorded(tmp_path, question, answer):
    project = copy(tmp_path, **{question: answer})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert str(answers[question]) == str(answer)


def test_slug_and_description_are_derived_from_the_project_name(tmp_path):
    project = copy(tmp_path, project_name="Élan: My Demo! Space")
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["space_slug"] == "lan-my-demo-space"
    assert answers["short_description"].startswith("Élan: My Demo! Space")
    assert len(answers["short_description"]) <= 60


def test_a_long_project_name_still_gives_valid_derived_answers(tmp_path):
    project = copy(tmp_path, project_name="A very long project name " * 3)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert len(answers["short_description"]) <= 60
    assert len(answers["space_slug"]) <= 96


def test_plain_copier_copy_needs_no_trust(tmp_path):
    """A user's first command: the CLI, defaults, no --trust (no tasks, no extensions)."""
    dst = tmp_path / "myapp"
    proc = subprocess.run(
        [TOOLS / "copier", "copy", "--defaults", "--vcs-ref", "HEAD", TEMPLATE, dst],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (dst / "Dockerfile").is_file()
    assert "--trust" not in proc.stderr


def test_the_cli_refuses_a_bad_port_and_writes_nothing(tmp_path):
    dst = tmp_path / "myapp"
    proc = subprocess.run(
        [TOOLS / "copier", "copy", "--defaults", "--vcs-ref", "HEAD", "--data", "port=80"]
        + [TEMPLATE, dst],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "from 1024 to 65535" in proc.stderr
    assert not dst.exists()


def test_every_question_has_help_and_a_default():
    config = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    questions = {k: v for k, v in config.items() if not k.startswith("_")}
    for name, spec in questions.items():
        assert "default" in spec, name
        if spec.get("when") is not False:
            assert spec.get("help"), f"{name} has no help text"

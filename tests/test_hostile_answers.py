"""Answers with hostile text (quotes, backslashes, Jinja, YAML and HTML specials, unicode) render
into valid YAML front matter, valid Python and escaped HTML, with the text unchanged."""

from __future__ import annotations

import ast
from html.parser import HTMLParser

import pytest
import yaml
from conftest import TOOLS, run

HOSTILE_NAMES = [
    'Tom\'s "quoted" \\ back\\slash',
    "{{ 7 * 7 }} {% raw %} ${{ secrets.HF_TOKEN }}",
    "- list: item # not a comment & *alias ? | > !tag %",
    "<script>alert('x')</script> & <img src=x onerror=alert(1)>",
    "Ünïcödé 😀 日本語 \u202eright-to-left",
    "'",
    "yes",
]


class PageText(HTMLParser):
    """The text of <title> and <h1>, and every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: dict[str, str] = {}
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._open = tag

    def handle_data(self, data):
        if self._open in {"title", "h1"}:
            self.text[self._open] = self.text.get(self._open, "") + data

    def handle_endtag(self, tag):
        self._open = None


def python_constant(source: str, name: str):
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and node.targets[0].id == name:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not assigned")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_text_is_kept_exactly_and_escaped_everywhere(render, name):
    description = name[:60]
    project = render(project_name=name, short_description=description, use_faiss=False)

    front_matter = yaml.safe_load((project / "README.md").read_text().split("---\n")[1])
    assert front_matter["title"] == name
    assert front_matter["short_description"] == description

    settings = (project / "app/settings.py").read_text()
    assert python_constant(settings, "PROJECT_NAME") == name
    assert python_constant(settings, "DESCRIPTION") == description
    run([TOOLS / "ruff", "check", "--no-cache", "app/settings.py"], cwd=project)
    run([TOOLS / "ruff", "format", "--no-cache", "--check", "app/settings.py"], cwd=project)

    page = PageText()
    page.feed((project / "public/index.html").read_text())
    assert page.text["title"] == name
    assert page.text["h1"] == name
    assert page.tags.count("script") == 1, "only the page's own app.js"
    assert "img" not in page.tags

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["project_name"] == name


# The base URL validator allows what URLs hold ($, %, &, #, ?, braces); none of it may break
# the rendered Python or .env.example, nor be read as Jinja.
HOSTILE_BASE_URL = "https://example.org/{{7*7}}{%raw%}/%7B${HOME}?a=1&b=2#frag"


def class_field_default(source: str, name: str):
    """The default of a pydantic Field(...) in a class body: its first argument."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == name:
            return ast.literal_eval(node.value.args[0])
    raise AssertionError(f"{name} not declared")


def test_a_hostile_base_url_is_kept_exactly_in_the_settings_and_env_example(render):
    project = render(answers=True, chat_base_url=HOSTILE_BASE_URL)
    settings = (project / "app/settings.py").read_text()
    assert class_field_default(settings, "chat_base_url") == HOSTILE_BASE_URL
    run([TOOLS / "ruff", "check", "--no-cache", "app/settings.py"], cwd=project)
    assert f"CHAT_BASE_URL={HOSTILE_BASE_URL}\n" in (project / ".env.example").read_text()
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["chat_base_url"] == (
        HOSTILE_BASE_URL
    )

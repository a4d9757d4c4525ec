"""The page in public/: every field has a label, and the script shows server text as text."""

import re
from html.parser import HTMLParser

from app.settings import PUBLIC_DIR


class _Controls(HTMLParser):
    """Collects the ids of form fields and the `for` of labels."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str | None] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag in ("input", "select", "textarea") and attributes.get("type") != "hidden":
            self.fields.append(attributes.get("id"))
        elif tag == "label" and attributes.get("for"):
            self.labelled.add(attributes["for"])


def test_every_field_has_a_label() -> None:
    controls = _Controls()
    controls.feed((PUBLIC_DIR / "index.html").read_text(encoding="utf-8"))
    assert controls.fields, "the page has no field"
    for field in controls.fields:
        assert field in controls.labelled, f"no <label for=...> names the field {field!r}"


def test_the_script_never_parses_text_as_html() -> None:
    # Titles and passages come from your documents: inserted as HTML, a document that
    # contains markup would run its scripts in your visitors' browsers.
    script = (PUBLIC_DIR / "app.js").read_text(encoding="utf-8")
    unsafe = re.findall(r"\.(?:inner|outer)HTML\s*\+?=|insertAdjacentHTML|document\.write", script)
    assert unsafe == [], "use textContent or document.createElement instead"

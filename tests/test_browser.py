"""The rendered page works in a real browser, as a Space's visitors use it.

Debian's Chromium (`apt-get install chromium`), driven by Playwright from PyPI with
`executable_path` (no browser download), loads the rendered app started for real with
`python start_with_index.py`, with and without use_faiss, and with answers from the real model
server of conftest.chat_server (Ask mode). Every page a test opens is watched:
console errors, uncaught exceptions, failed requests, HTTP errors and requests to anywhere but
the app fail the test, except the failures a test provokes on purpose.

Screenshots (phone and desktop, both variants) are written to test-results/screenshots/.
Without the playwright package or without Chromium these tests skip and say which is missing.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from conftest import TEMPLATE, connections_to, running_app, wait_until

# CHROMIUM: another Chromium-based browser (Google Chrome on a runner without Debian's build).
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# REQUIRE_BROWSER=1 (set by .ci/run) turns a missing browser into a failure instead of a skip.
REQUIRED = os.environ.get("REQUIRE_BROWSER", "") not in ("", "0")


def missing(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason}, and REQUIRE_BROWSER is set", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


try:
    from playwright import sync_api
except ImportError:
    missing("the playwright package is not installed (pip install -r requirements-dev.txt)")
expect = sync_api.expect

pytestmark = pytest.mark.slow

# Flags that work as root in a container: no sandbox, no GPU, and no traffic of Chromium's own
# (updates, sync, field trials) that would show up as requests to outside the Space.
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = TEMPLATE / "test-results" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

# Answers other than the defaults, so that the page visibly follows them (and escapes them).
ANSWERS = {
    "project_name": "Ada's Notes & <Docs>",
    "emoji": "🚀",
    "color_from": "green",
    "color_to": "pink",
}
SHORT_DESCRIPTION = "Ada's Notes & <Docs> on Hugging Face Spaces"  # derived from the name

# A document with markup in its title and text: the page must show it as text and run nothing.
MARKUP_DOCUMENT = """\
# Zanzibar <img src=x onerror="window.__ran = 'title'; alert('title')">

Zanzibar notes: <script>window.__ran = 'script'; alert('script')</script> is text here,
and so is <img src=x onerror="window.__ran = 'img'; alert('img')"> in this paragraph.
"""


# ---- The app, the browser and a watch on every page ----------------------------------------


@dataclass
class Site:
    url: str  # base URL, no trailing slash
    use_faiss: bool

    @property
    def variant(self) -> str:
        return "faiss" if self.use_faiss else "nofaiss"

    @property
    def input(self) -> str:
        return "#q" if self.use_faiss else "#name"


@dataclass
class Watch:
    """What a page did: its requests, and every error it showed."""

    allowed_origins: list[str]
    urls: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    provoked: list[str] = field(default_factory=list)  # URL parts whose failures are expected

    def attach(self, page) -> None:
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)
        page.on("dialog", self._dialog)

    def provoke(self, url_part: str) -> None:
        """The test makes requests whose URL contains url_part fail: do not count those."""
        self.provoked.append(url_part)

    def _is_provoked(self, url: str) -> bool:
        return any(part in url for part in self.provoked)

    def _console(self, message) -> None:
        if message.type == "error" and not self._is_provoked(message.location.get("url", "")):
            self.console_errors.append(f"{message.text} ({message.location.get('url')})")

    def _request_failed(self, request) -> None:
        if not self._is_provoked(request.url):
            self.failed_requests.append(f"{request.url}: {request.failure}")

    def _response(self, response) -> None:
        if response.status >= 400 and not self._is_provoked(response.url):
            self.bad_responses.append(f"{response.status} {response.url}")

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def outside(self) -> list[str]:
        """Requests that went anywhere but the allowed origins (data: URLs load nothing)."""
        return [
            url
            for url in self.urls
            if not url.startswith("data:")
            and not any(url.startswith(origin + "/") for origin in self.allowed_origins)
        ]

    def problems(self) -> dict[str, list[str]]:
        found = {
            "console errors": self.console_errors,
            "uncaught exceptions": self.page_errors,
            "failed requests": self.failed_requests,
            "HTTP errors": self.bad_responses,
            "dialogs": self.dialogs,
            "requests to outside the Space": self.outside(),
        }
        return {kind: items for kind, items in found.items() if items}


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def _serve(render, project_venvs, tmp: Path, use_faiss: bool, **env: str):
    """Copy the rendering (so the shared one stays clean), start it, yield its Site."""
    _, python = project_venvs(use_faiss)
    project = tmp / "project"
    shutil.copytree(render(use_faiss=use_faiss, **ANSWERS), project)
    with running_app(python, project, **env) as url:
        yield Site(url=url, use_faiss=use_faiss)


# The site fixtures ask for `browser` first: without one they skip before building venvs.
@pytest.fixture(scope="module")
def search_site(browser, render, project_venvs, tmp_path_factory):
    """The use_faiss app over the sample data plus a document full of markup."""
    tmp = tmp_path_factory.mktemp("browser-faiss")
    data = tmp / "data"
    shutil.copytree(render(use_faiss=True, **ANSWERS) / "data", data)
    (data / "markup.md").write_text(MARKUP_DOCUMENT, encoding="utf-8")
    env = {"DATA_DIR": str(data), "INDEX_DIR": str(tmp / "index")}
    yield from _serve(render, project_venvs, tmp, True, **env)


@pytest.fixture(scope="module")
def hello_site(browser, render, project_venvs, tmp_path_factory):
    """The app without use_faiss: the page and the example endpoint /api/hello."""
    tmp = tmp_path_factory.mktemp("browser-nofaiss")
    yield from _serve(render, project_venvs, tmp, False)


@pytest.fixture(params=[True, False], ids=["faiss", "nofaiss"])
def site(request) -> Site:
    return request.getfixturevalue("search_site" if request.param else "hello_site")


@pytest.fixture
def open_page(browser):
    """open_page(site, viewport=DESKTOP, url=None) -> (page, watch), the page loaded.

    After the test, any problem a watch saw (that the test did not provoke) fails it.
    """
    opened = []

    def _open(site: Site, viewport: dict = DESKTOP, url: str | None = None, origins=()):
        phone = viewport == PHONE
        context = browser.new_context(
            viewport=viewport,
            is_mobile=phone,
            has_touch=phone,
            device_scale_factor=2 if phone else 1,
        )
        page = context.new_page()
        watch = Watch(allowed_origins=[site.url, *origins])
        watch.attach(page)
        opened.append((context, watch))
        page.goto(url or site.url + "/")
        if url is None:
            wait_until_ready(page)
        return page, watch

    yield _open
    problems = [watch.problems() for _, watch in opened]
    for context, _ in opened:
        context.close()
    problems = [found for found in problems if found]
    assert not problems, f"the page had problems: {problems}"


def wait_until_ready(page) -> None:
    """The page has run its start-up requests: the footer shows what /api/health said."""
    expect(page.locator("#info")).not_to_have_text("")


def search(page, query: str, submit: str = "enter") -> None:
    page.fill("#q", query)
    if submit == "enter":
        page.press("#q", "Enter")
    else:
        page.click("button[type=submit]")


def palette() -> dict[str, str]:
    """The page's colour for each answer colour name, as Chromium reports it: rgb(r, g, b)."""
    css = (TEMPLATE / "template" / "public" / "style.css.jinja").read_text(encoding="utf-8")
    found = dict(re.findall(r'"(\w+)": "#([0-9a-fA-F]{6})"', css))
    assert found, "no colour palette in style.css.jinja"
    return {
        name: "rgb({}, {}, {})".format(*(int(code[i : i + 2], 16) for i in (0, 2, 4)))
        for name, code in found.items()
    }


# ---- Search (use_faiss) ---------------------------------------------------------------------


def check_results(page, query: str, base_url: str) -> None:
    """The page shows what /api/search answers: title, source, score, query words marked."""
    expect(page.locator("#status")).to_contain_text(f"for “{query}”")
    answer = httpx.get(base_url + "/api/search", params={"q": query, "k": 5}).json()
    expected = answer["results"]
    assert expected, f"the sample data should have results for {query!r}"
    items = page.locator("#results > li")
    expect(items).to_have_count(len(expected))
    words = query.lower().split()  # the queries here have no common words ("the", "of")
    whole_word = re.compile(r"(?<!\w)(?:" + "|".join(words) + r")(?!\w)", re.IGNORECASE)
    for item, result in zip(items.all(), expected, strict=True):
        expect(item.locator("h2")).to_have_text(result["title"])
        expect(item.locator(".source")).to_have_text(result["source"])
        expect(item.locator(".score")).to_have_text(f"score {result['score']:.3f}")
        marks = item.locator(".passage mark").all_inner_texts()
        passage = item.locator(".passage").inner_text()
        assert len(marks) == len(whole_word.findall(passage)), (marks, passage)
        assert all(mark.lower() in words for mark in marks), marks
    assert page.locator("#results mark").count() > 0, "no query word is highlighted"


def test_search_by_enter_and_by_button_shows_ranked_highlighted_results(search_site, open_page):
    page, watch = open_page(search_site)
    search(page, "docker image", submit="enter")
    check_results(page, "docker image", search_site.url)
    search(page, "vector search", submit="click")
    check_results(page, "vector search", search_site.url)
    assert sum("/api/search?" in url for url in watch.urls) == 2


def test_an_empty_query_asks_for_words_without_calling_the_api(search_site, open_page):
    page, watch = open_page(search_site)
    for query in ("", "   "):
        search(page, query)
        expect(page.locator("#status")).to_have_text("Type a word or two to search for.")
        expect(page.locator("#results > li")).to_have_count(0)
        expect(page.locator("#q")).to_be_focused()
    assert not [url for url in watch.urls if "/api/search" in url]


def test_a_query_without_hits_says_so(search_site, open_page):
    page, _ = open_page(search_site)
    search(page, "docker")
    expect(page.locator("#results > li").first).to_be_visible()
    search(page, "qwxyzzy")
    expect(page.locator("#status")).to_contain_text("No results for “qwxyzzy”")
    expect(page.locator("#results > li")).to_have_count(0)


def test_a_server_error_or_a_lost_connection_shows_an_error_message(search_site, open_page):
    page, watch = open_page(search_site)
    watch.provoke("/api/search")
    status = page.locator("#status[data-kind=error]")

    page.route("**/api/search?*", lambda route: route.fulfill(status=500, body="Boom"))
    search(page, "docker")
    expect(status).to_contain_text("Something went wrong")
    expect(status).to_contain_text("500")
    page.unroute("**/api/search?*")

    page.route("**/api/search?*", lambda route: route.abort("internetdisconnected"))
    search(page, "docker", submit="click")
    expect(status).to_contain_text("Could not reach the server")
    page.unroute("**/api/search?*")

    # Not a blank page: the header and the form are still there, and the next search works.
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("#q")).to_be_visible()
    search(page, "docker")
    expect(page.locator("#results > li").first).to_be_visible()
    expect(page.locator("#status")).not_to_have_attribute("data-kind", "error")


def test_a_query_the_api_refuses_shows_its_reason(search_site, open_page):
    page, watch = open_page(search_site)
    watch.provoke("/api/search")  # the real 422 of the real app
    search(page, "docker " * 100)
    status = page.locator("#status[data-kind=error]")
    expect(status).to_contain_text("Not accepted")
    expect(status).to_contain_text("500 characters")


def test_a_result_with_a_web_url_links_to_it_and_nothing_else_becomes_a_link(
    search_site, open_page
):
    page, watch = open_page(search_site)
    answer = {
        "query": "quokka",
        "k": 5,
        "took_ms": 1.0,
        "results": [
            result("Quokka facts", "A quokka lives on Rottnest.", url="https://example.org/q"),
            result("Script link", "A quokka smiles.", url="javascript:alert(1)"),
            result("Data link", "A quokka hops.", url="data:text/html,<script>alert(1)</script>"),
            result("No link", "A quokka naps."),
        ],
    }
    page.route("**/api/search?*", lambda route: route.fulfill(json=answer))
    search(page, "quokka")
    headings = page.locator("#results h2")
    expect(headings).to_have_count(4)
    link = headings.nth(0).locator("a")
    expect(link).to_have_text("Quokka facts")
    expect(link).to_have_attribute("href", "https://example.org/q")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    for index, title in ((1, "Script link"), (2, "Data link"), (3, "No link")):
        expect(headings.nth(index)).to_have_text(title)
        expect(headings.nth(index).locator("a")).to_have_count(0)
    expect(page.locator("#results mark")).to_have_count(4)
    assert watch.dialogs == []


def result(title: str, text: str, **extra) -> dict:
    """One search result as /api/search answers it."""
    fields = {"score": 0.5, "title": title, "section": "", "source": "notes.jsonl"}
    return {**fields, "position": 0, "text": text, **extra}


@pytest.mark.parametrize(
    ("query", "marks"),
    [("zanzibar", 1), ("zanzibar script img", 8)],  # script 4 times and img 3 times in the text
    ids=["plain", "words-inside-the-markup-marked"],
)
def test_markup_in_a_document_is_shown_as_text_and_runs_nothing(
    search_site, open_page, query, marks
):
    page, watch = open_page(search_site)
    search(page, query)
    first = page.locator("#results > li").first
    expect(first.locator(".source")).to_have_text("markup.md")
    expect(first.locator("h2")).to_contain_text("Zanzibar <img src=x onerror=")
    passage = first.locator(".passage")
    expect(passage).to_contain_text("<script>window.__ran = 'script'; alert('script')</script>")
    expect(passage).to_contain_text("<img src=x onerror=\"window.__ran = 'img'; alert('img')\">")
    expect(passage.locator("mark")).to_have_count(marks)
    page.wait_for_timeout(500)  # time for an injected <img src=x> to fail and fire onerror
    assert page.evaluate("window.__ran") is None
    assert page.locator("#results script, #results img, #results [onerror]").count() == 0
    assert watch.dialogs == []
    assert not [url for url in watch.urls if url.rstrip("/").endswith("/x")]


# ---- The example endpoint (no use_faiss) ----------------------------------------------------


def test_the_page_shows_the_example_endpoints_answer(hello_site, open_page):
    page, watch = open_page(hello_site)
    expect(page.locator("#answer")).to_have_text("Hello, world!")
    page.fill("#name", "Ada")
    page.press("#name", "Enter")
    expect(page.locator("#answer")).to_have_text("Hello, Ada!")
    page.fill("#name", "<img src=x onerror=alert(1)>")
    page.click("button[type=submit]")
    expect(page.locator("#answer")).to_have_text("Hello, <img src=x onerror=alert(1)>!")
    assert page.locator("#answer img").count() == 0
    assert sum("/api/hello" in url for url in watch.urls) == 3


# ---- Both variants: errors, keyboard, labels, screens, the Space frame ----------------------


def test_the_page_loads_with_no_errors_and_nothing_from_outside(site, open_page):
    page, watch = open_page(site)
    if site.use_faiss:
        search(page, "docker")
        expect(page.locator("#results > li").first).to_be_visible()
    else:
        expect(page.locator("#answer")).not_to_have_text("")
    paths = {url.removeprefix(site.url).split("?")[0] for url in watch.urls}
    assert {"/", "/style.css", "/app.js", "/api/health"} <= paths, paths
    assert watch.problems() == {}


def test_the_keyboard_reaches_the_input_then_the_button_and_enter_submits(site, open_page):
    page, watch = open_page(site)
    api = "/api/search?" if site.use_faiss else "/api/hello?"
    focused = "document.activeElement.id || document.activeElement.tagName"
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == site.input[1:]
    page.keyboard.type("docker" if site.use_faiss else "Ada")
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "BUTTON"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "API docs"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(focused) == site.input[1:]
    page.keyboard.press("Enter")
    if site.use_faiss:
        expect(page.locator("#results > li").first).to_be_visible()
    else:
        expect(page.locator("#answer")).to_have_text("Hello, Ada!")
    assert sum(api in url for url in watch.urls) == 1
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "BUTTON"
    with page.expect_request(lambda request: api in request.url):
        page.keyboard.press("Enter")  # on the button: submits again


def test_every_control_has_an_accessible_name(site, open_page):
    page, _ = open_page(site)
    field_role, label, button = (
        ("searchbox", "Search the documents", "Search")
        if site.use_faiss
        else ("textbox", "Your name", "Say hello")
    )
    expect(page.get_by_role(field_role, name=label, exact=True)).to_have_id(site.input[1:])
    expect(page.get_by_role("button", name=button, exact=True)).to_be_visible()
    unlabelled = page.evaluate(
        """[...document.querySelectorAll("input, select, textarea")]
            .filter((el) => ![...el.labels].some((label) => label.textContent.trim()))
            .map((el) => el.outerHTML)"""
    )
    assert unlabelled == []
    assert page.evaluate("document.documentElement.lang") == "en"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_page_is_readable_on_a_phone_and_a_desktop(site, open_page, viewport):
    page, _ = open_page(site, viewport=viewport)
    if site.use_faiss:
        search(page, "docker image")
        expect(page.locator("#results > li").first).to_be_visible()
    else:
        page.fill("#name", "Ada")
        page.press("#name", "Enter")
        expect(page.locator("#answer")).to_have_text("Hello, Ada!")
    width = viewport["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "horizontal scroll"
    for selector in (site.input, "button[type=submit]", "h1"):
        control = page.locator(selector)
        expect(control).to_be_in_viewport()
        box = control.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)
    button = page.locator("button[type=submit]").bounding_box()
    assert button["height"] >= 32 and button["width"] >= 44, button  # easy to tap
    font_size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert font_size >= 16
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = "phone" if viewport == PHONE else "desktop"
    page.screenshot(path=SCREENSHOTS / f"{site.variant}-{name}.png", full_page=True)


def test_the_page_shows_the_spaces_title_emoji_and_colours(site, open_page):
    page, _ = open_page(site)
    assert page.title() == ANSWERS["project_name"]
    expect(page.locator("h1")).to_have_text(ANSWERS["project_name"])
    expect(page.locator(".hero .emoji")).to_have_text(ANSWERS["emoji"])
    expect(page.locator(".hero .tagline")).to_have_text(SHORT_DESCRIPTION)
    colours = palette()
    start, end = colours[ANSWERS["color_from"]], colours[ANSWERS["color_to"]]
    hero = page.evaluate("getComputedStyle(document.querySelector('.hero')).backgroundImage")
    assert hero.startswith("linear-gradient(") and start in hero and end in hero, hero
    assert hero.index(start) < hero.index(end), hero
    button = page.evaluate(
        "getComputedStyle(document.querySelector('button[type=submit]')).backgroundColor"
    )
    assert button == start


@pytest.mark.parametrize("path", ["/", "/index.html", "/style.css", "/app.js", "/api/health"])
def test_no_header_forbids_framing(site, path):
    # Hugging Face shows a Space in an <iframe> on huggingface.co: X-Frame-Options or a CSP
    # frame-ancestors would leave that frame blank.
    response = httpx.get(site.url + path)
    assert response.status_code == 200
    assert "x-frame-options" not in response.headers
    policy = response.headers.get("content-security-policy", "")
    assert "frame-ancestors" not in policy.lower(), policy


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    """Serves a folder without logging every request to stderr."""

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def embedding_origin(tmp_path):
    """embed(url) -> URL of a page on another site that shows `url` in an <iframe>."""
    handler = functools.partial(QuietFiles, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # "localhost" against the app's "127.0.0.1": another site, as huggingface.co is to hf.space.
    origin = f"http://localhost:{server.server_address[1]}"

    def embed(url: str) -> str:
        (tmp_path / "space.html").write_text(
            "<!doctype html><title>Space host</title><link rel=icon href='data:,'>"
            f'<iframe id="space" src="{url}" title="Space" width="1000" height="700"></iframe>',
            encoding="utf-8",
        )
        return origin + "/space.html"

    embed.origin = origin
    yield embed
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_the_page_works_inside_a_space_iframe(site, open_page, embedding_origin):
    page, _ = open_page(
        site, url=embedding_origin(site.url + "/"), origins=[embedding_origin.origin]
    )
    frame = page.frame_locator("#space")
    expect(frame.locator("h1")).to_have_text(ANSWERS["project_name"])
    expect(frame.locator("#info")).not_to_have_text("")
    if site.use_faiss:
        frame.locator("#q").fill("docker image")
        frame.locator("#q").press("Enter")
        expect(frame.locator("#results > li").first).to_be_visible()
        expect(frame.locator("#results mark").first).to_be_visible()
    else:
        expect(frame.locator("#answer")).to_have_text("Hello, world!")


# ---- Ask (use_faiss with answers): a streamed answer from the real model server --------------

# The tiny model writes until the limit: long enough that Stop can be pressed mid-answer.
ASK_TOKENS = 2000
QUESTION = "Zanzibar notes: what are they?"


@pytest.fixture(scope="module")
def ask_site(browser, render, project_venvs, chat_server, tmp_path_factory):
    """The answers app over the sample data and the markup document, answering with the tiny
    model of conftest.chat_server."""
    tmp = tmp_path_factory.mktemp("browser-answers")
    answers = {"use_faiss": True, "answers": True, **ANSWERS}
    data = tmp / "data"
    shutil.copytree(render(**answers) / "data", data)
    (data / "markup.md").write_text(MARKUP_DOCUMENT, encoding="utf-8")
    shutil.copytree(render(**answers), tmp / "project")
    _, python = project_venvs(True)
    env = {
        "DATA_DIR": str(data),
        "INDEX_DIR": str(tmp / "index"),
        "HF_TOKEN": "hf_test_token",
        "CHAT_BASE_URL": chat_server.base_url,
        "CHAT_MODEL": str(chat_server.model),
        "ANSWER_MAX_TOKENS": str(ASK_TOKENS),
        "ANSWER_TIMEOUT": "5",
    }
    with running_app(python, tmp / "project", **env) as url:
        yield Site(url=url, use_faiss=True)


def ask(page, question: str) -> None:
    page.check("#mode-ask")
    page.fill("#q", question)
    page.press("#q", "Enter")


def streamed(base_url: str, question: str) -> tuple[list[dict], str]:
    """The passages and the answer's text that the API streams for `question`."""
    passages, text = [], ""
    with httpx.stream(
        "POST", base_url + "/api/answer", json={"question": question}, timeout=120
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = json.loads(line[len("data: ") :])
                passages = data.get("passages", passages)
                text += data.get("text", "")
    return passages, text


def test_ask_streams_the_answer_as_text_with_citations_linked_to_its_passages(ask_site, open_page):
    passages, text = streamed(ask_site.url, QUESTION)
    page, watch = open_page(ask_site)
    ask(page, QUESTION)
    expect(page.locator("#stop")).to_be_visible()
    status = page.locator("#status")
    expect(status).to_contain_text("It was cut at its maximum length.", timeout=60_000)
    expect(page.locator("#stop")).to_be_hidden()
    # The same words as the API's, as text: the model's markup is shown, never run.
    reply = page.locator("#answer-text")
    assert reply.text_content() == text
    assert "<" in text and page.locator("#answer-text *:not(a)").count() == 0
    # Each [n] that names a shown passage links to it; the passages are the API's, numbered.
    items = page.locator("#results > li")
    expect(items).to_have_count(len(passages))
    for item, passage in zip(items.all(), passages, strict=True):
        assert item.get_attribute("id") == f"passage-{passage['n']}"
        expect(item.locator("h2")).to_have_text(f"[{passage['n']}] {passage['title']}")
    cited = [int(n) for n in re.findall(r"\[(\d+)\]", text) if 1 <= int(n) <= len(passages)]
    links = reply.locator("a")
    assert cited and links.count() == len(cited), (cited, text[:300])
    assert [links.nth(i).get_attribute("href") for i in range(len(cited))] == [
        f"#passage-{n}" for n in cited
    ]
    links.first.click()
    assert page.evaluate("location.hash") == f"#passage-{cited[0]}"
    expect(page.locator(f"#passage-{cited[0]}")).to_be_in_viewport()
    # The markup document is among the passages, shown as text too.
    assert passages[0]["source"] == "markup.md"
    expect(items.first.locator(".passage")).to_contain_text("<script>window.__ran = 'script';")
    assert page.locator("#results script, #results img, #results [onerror]").count() == 0
    assert page.evaluate("window.__ran") is None and watch.dialogs == []


def test_stop_ends_the_answer_keeps_its_text_and_the_keyboard_in_the_field(
    ask_site, open_page, chat_server
):
    page, watch = open_page(ask_site)
    ask(page, QUESTION)
    reply = page.locator("#answer-text")
    expect(reply).not_to_have_text("")
    watch.provoke("/api/answer")  # Stop aborts the request: Chromium counts it as failed
    page.click("#stop")
    expect(page.locator("#status")).to_have_text("Stopped.")
    expect(page.locator("#stop")).to_be_hidden()
    assert page.evaluate("document.activeElement.id") == "q"
    written = reply.text_content()
    assert 0 < len(written) < len(streamed(ask_site.url, QUESTION)[1])
    # The app has closed its request to the model: nobody pays for the rest.
    assert wait_until(lambda: connections_to(chat_server.port) == 0)
    assert reply.text_content() == written
    page.press("#q", "Enter")  # and the next question is answered
    expect(page.locator("#status")).to_contain_text("Answered in", timeout=60_000)


def test_a_model_server_that_stalls_shows_the_timeout_message(ask_site, open_page, chat_server):
    page, _ = open_page(ask_site)
    os.kill(chat_server.proc.pid, signal.SIGSTOP)
    try:
        ask(page, QUESTION)
        expect(page.locator("#results > li").first).to_be_visible()  # the passages came first
        expect(page.locator("#status")).to_have_text(
            f"The model server at {chat_server.base_url} did not answer within 5 s "
            "(ANSWER_TIMEOUT).",
            timeout=30_000,
        )
    finally:
        os.kill(chat_server.proc.pid, signal.SIGCONT)
    expect(page.locator("#stop")).to_be_hidden()
    assert page.locator("#answer").is_hidden()


def test_without_a_token_ask_says_how_to_add_the_secret_and_search_still_works(
    browser, render, project_venvs, open_page, tmp_path
):
    project = tmp_path / "project"
    shutil.copytree(render(use_faiss=True, answers=True, **ANSWERS), project)
    _, python = project_venvs(True)
    with running_app(python, project, INDEX_DIR=str(tmp_path / "index")) as url:
        site = Site(url=url, use_faiss=True)
        page, watch = open_page(site)
        page.check("#mode-ask")
        expect(page.locator("#status")).to_contain_text("as the secret HF_TOKEN")
        expect(page.locator("label[for=q]")).to_have_text("Ask the documents")
        watch.provoke("/api/answer")  # a 503: answers are off
        ask(page, "How is the index rebuilt?")
        expect(page.locator("#status")).to_contain_text("No answer: Answers are off")
        page.check("#mode-search")
        search(page, "docker image")
        check_results(page, "docker image", url)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_ask_is_usable_by_keyboard_and_on_a_phone(ask_site, open_page, viewport):
    page, _ = open_page(ask_site, viewport=viewport)
    focused = "document.activeElement.id"
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "mode-search"
    page.keyboard.press("ArrowRight")  # a radio group: arrows choose
    assert page.evaluate(focused) == "mode-ask"
    expect(page.locator("#mode-ask")).to_be_checked()
    expect(page.locator("button[type=submit]")).to_have_text("Ask")
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "q"
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("Answered in", timeout=60_000)
    width = viewport["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "horizontal scroll"
    for selector in ("#q", "button[type=submit]", "#answer", "#results > li >> nth=0"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = "phone" if viewport == PHONE else "desktop"
    page.screenshot(path=SCREENSHOTS / f"answers-{name}.png")  # (the 2000-token answer: not all)

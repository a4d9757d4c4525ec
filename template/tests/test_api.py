"""The app answers as a Hugging Face Space must: health, the page at /, HEAD /, /docs."""

import re
from html.parser import HTMLParser

from fastapi.testclient import TestClient

from app.settings import DESCRIPTION, PROJECT_NAME


class _TextOf(HTMLParser):
    """Collects the text of the first element with a given tag."""

    def __init__(self, tag: str) -> None:
        super().__init__()
        self.tag, self.inside, self.text = tag, False, None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == self.tag and self.text is None:
            self.inside, self.text = True, ""

    def handle_endtag(self, tag: str) -> None:
        if tag == self.tag:
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.text += data


def text_of(html: str, tag: str) -> str | None:
    parser = _TextOf(tag)
    parser.feed(html)
    return parser.text


def test_health_answers_ok(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_head_on_the_root_is_200(client: TestClient) -> None:
    # Hugging Face and load balancers probe with HEAD; it must not be 405.
    response = client.head("/")
    assert response.status_code == 200
    assert response.content == b""


def test_root_serves_the_page_with_the_space_title(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert text_of(response.text, "title") == PROJECT_NAME
    assert text_of(response.text, "h1") == PROJECT_NAME


def test_page_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/").text
    links = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert links, "the page links no assets"
    for link in links:  # no CDN: the page works offline
        assert not link.startswith(("http:", "https:", "//")), link
    for asset, kind in (("/style.css", "text/css"), ("/app.js", "javascript")):
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert kind in response.headers["content-type"]


def test_docs_and_openapi_describe_the_space(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == PROJECT_NAME
    assert schema["info"]["description"] == DESCRIPTION
    assert "/api/health" in schema["paths"]


def test_unknown_path_is_404(client: TestClient) -> None:
    assert client.get("/api/no-such-route").status_code == 404
    assert client.get("/no-such-page.html").status_code == 404

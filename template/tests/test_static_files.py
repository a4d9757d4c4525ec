"""Only what is inside public/ is served: no path, encoded or not, and no symbolic link reaches
the code, .env, .git or the index. Sent over real HTTP, byte for byte: HTTP clients would
normalise `..` away before the server ever saw it."""

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import app.main
from app.settings import Settings
from tests.support import raw_get

ESCAPES = [
    b"/../app/main.py",
    b"/%2e%2e/app/main.py",
    b"/%2E%2E/app/main.py",
    b"/..%2fapp/main.py",
    b"/..%2Fapp%2Fmain.py",
    b"/%2e%2e%2fapp%2fmain.py",
    b"/%252e%252e/app/main.py",  # double-encoded
    b"/..%252fapp/main.py",
    b"/..\\app\\main.py",  # backslashes
    b"/%5c..%5capp%5cmain.py",
    b"/.%2e/app/main.py",
    b"/./../app/main.py",
    b"/style.css/../../app/main.py",
    b"/api/../../app/main.py",
    b"//app/main.py",
    b"/app/main.py",
    b"/%c0%ae%c0%ae/app/main.py",  # overlong UTF-8 dots
    b"/../../../../etc/passwd",
    b"/../start_with_index.py",
    b"/../.env",
    b"/.env",
    b"/../.git/config",
    b"/.git/config",
    b"/../index/manifest.json",
    b"/index/manifest.json",
    b"/../index/chunks.sqlite",
    b"/%00",
    b"/index.html%00.py",
]


@pytest.mark.parametrize("target", ESCAPES, ids=[t.decode("latin-1") for t in ESCAPES])
def test_paths_out_of_public_are_404(live_server: str, target: bytes) -> None:
    answer = raw_get(live_server, target)
    assert answer.status == 404
    assert json.loads(answer.body) == {"detail": "Not Found"}


def test_the_page_itself_is_served(live_server: str) -> None:
    for target in (b"/", b"/index.html", b"/style.css", b"/app.js"):
        assert raw_get(live_server, target).status == 200, target


@pytest.fixture
def public_with_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A public/ folder with symbolic links that lead out of it, and one that stays inside."""
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web")
    public = tmp_path / "public"
    public.mkdir()
    (public / "index.html").write_text("<!doctype html><title>page</title>")
    (public / "style.css").write_text("body {}")
    (public / "leak.txt").symlink_to(secret)
    (public / "up").symlink_to(tmp_path, target_is_directory=True)
    (public / "etc").symlink_to("/etc", target_is_directory=True)
    (public / "same.css").symlink_to(public / "style.css")
    monkeypatch.setattr(app.main, "PUBLIC_DIR", public)
    return public


def test_symbolic_links_out_of_public_are_404(public_with_links: Path, settings: Settings) -> None:
    with TestClient(app.main.create_app(settings)) as client:
        for path in ("/leak.txt", "/up/secret.txt", "/etc/hostname"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert "not for the web" not in response.text
        # A link that stays inside public/ is an ordinary file.
        assert client.get("/same.css").text == "body {}"
        assert client.get("/").status_code == 200

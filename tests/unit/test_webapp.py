"""The web terminal served by the API server (SPEC §9): files from a build, the app's routes
falling back to index.html, cache headers, and API paths that keep their JSON 404/405."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from exness.services.server.app import create_app
from exness.services.server.webapp import default_dist, is_api_path, looks_like_page
from exness.settings import get_settings

INDEX = "<!doctype html><title>Exness terminal</title><div id=root></div>"


class Web:
    """The server's app in-process. Its lifespan (Redis, PostgreSQL) is not entered: only
    routes that need no store are requested."""

    def __init__(self, dist: Path) -> None:
        settings = get_settings(
            redis_url="redis://127.0.0.1:1/0",
            database_url="postgresql://nobody@127.0.0.1:1/none",
            web_dist=dist,
        )
        self.app: FastAPI = create_app(settings)

    async def request(self, method: str, path: str, **options) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await http.request(method, path, **options)

    async def get(self, path: str, **options) -> httpx.Response:
        return await self.request("GET", path, **options)


def client(dist: Path) -> Web:
    return Web(dist)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "index-abc123.js").write_text("console.log('terminal')")
    (dist / "favicon.svg").write_text("<svg/>")
    return dist


@pytest.mark.parametrize("path", ["/", "/dashboard", "/history", "/signin", "/history/", "/a/b"])
async def test_pages_of_the_app_get_index_html_revalidated(built: Path, path: str):
    answer = await client(built).get(path)
    assert answer.status_code == 200
    assert answer.text == INDEX
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-cache"
    assert "default-src 'self'" in answer.headers["content-security-policy"]


async def test_hashed_assets_are_cached_for_good(built: Path):
    answer = await client(built).get("/assets/index-abc123.js")
    assert answer.status_code == 200
    assert answer.text == "console.log('terminal')"
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in answer.headers["content-type"]


async def test_other_files_are_served_and_revalidated(built: Path):
    answer = await client(built).get("/favicon.svg")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-cache"


async def test_an_unchanged_index_is_not_sent_again(built: Path):
    web = client(built)
    first = await web.get("/dashboard")
    again = await web.get("/dashboard", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304


async def test_head_answers_without_a_body(built: Path):
    answer = await client(built).request("HEAD", "/dashboard")
    assert answer.status_code == 200
    assert answer.content == b""


@pytest.mark.parametrize(
    "path", ["/assets/missing-1.js", "/missing.png", "/assets/../../secret.txt"]
)
async def test_missing_files_are_404_not_the_app(built: Path, path: str):
    (built.parent / "secret.txt").write_text("no")
    answer = await client(built).get(path)
    assert answer.status_code == 404
    assert answer.text != "no"


@pytest.mark.parametrize(
    "path", ["/api", "/api/v2/nope", "/health/deep", "/metrics/x", "/docs/x", "/openapi.json/x"]
)
async def test_api_paths_keep_their_json_404(built: Path, path: str):
    answer = await client(built).get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["success"] is False


async def test_only_get_and_head_reach_the_app(built: Path):
    answer = await client(built).request("POST", "/dashboard", json={})
    assert answer.status_code == 404
    assert answer.json()["success"] is False


async def test_a_wrong_method_on_an_api_route_is_still_405(built: Path):
    answer = await client(built).request("POST", "/openapi.json")
    assert answer.status_code == 405


async def test_the_api_schema_is_still_served(built: Path):
    answer = await client(built).get("/openapi.json")
    assert answer.status_code == 200
    assert "/api/v1/trade/create" in answer.json()["paths"]


async def test_without_a_build_a_page_says_how_to_make_one(tmp_path: Path):
    web = client(tmp_path / "nothing")
    answer = await web.get("/dashboard")
    assert answer.status_code == 503
    assert "make web" in answer.text
    assert (await web.get("/assets/index-abc123.js")).status_code == 404
    assert (await web.get("/api/v2/nope")).headers["content-type"] == "application/json"


async def test_a_build_made_while_the_server_runs_is_served(tmp_path: Path):
    dist = tmp_path / "dist"
    web = client(dist)
    assert (await web.get("/")).status_code == 503
    dist.mkdir()
    (dist / "index.html").write_text(INDEX)
    assert (await web.get("/")).text == INDEX


def test_paths_are_told_apart():
    assert is_api_path("/api/v1/klines") and is_api_path("/health") and is_api_path("/docs")
    assert not is_api_path("/apis") and not is_api_path("/healthy") and not is_api_path("/")
    assert looks_like_page("/dashboard") and looks_like_page("/") and looks_like_page("/x/y/")
    assert not looks_like_page("/favicon.ico") and not looks_like_page("/assets/a.js")


def test_the_default_build_is_the_repositorys_web_dist():
    assert default_dist() == Path(__file__).resolve().parents[2] / "web" / "dist"

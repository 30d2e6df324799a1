"""Every service's documents, served by the service itself so that they work without internet:
Swagger UI on `/docs` (its assets from the `swagger-ui-bundle-v2` package, under `/docs/assets/`,
instead of FastAPI's CDN), the AsyncAPI document of the platform's events on `/asyncapi.json` and its
page on `/asyncapi`. ReDoc, which would load its script from a CDN too, is off."""

from typing import Any, Final

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from shared.asyncapi import asyncapi_document
from shared.asyncapi_page import render_asyncapi

DOCS_PATH: Final = "/docs"
ASSETS_PATH: Final = "/docs/assets"
ASYNCAPI_JSON_PATH: Final = "/asyncapi.json"
ASYNCAPI_PAGE_PATH: Final = "/asyncapi"
# Paths anyone may read (shared/auth.py opens them, and everything under `/docs/`).
DOCUMENT_PATHS: Final = frozenset({DOCS_PATH, ASYNCAPI_JSON_PATH, ASYNCAPI_PAGE_PATH})


def install_api_docs(app: FastAPI) -> None:
    """Serve `/docs`, its assets, `/asyncapi.json` and `/asyncapi` on `app` (made with `docs_url=None`,
    `redoc_url=None`)."""
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} - Swagger UI"
    router = APIRouter(tags=["operations"], include_in_schema=False)

    @router.get(DOCS_PATH)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
        )

    @router.get(ASYNCAPI_JSON_PATH)
    async def asyncapi_json() -> dict[str, Any]:
        """The AsyncAPI 3.0 document of every topic and event type."""
        return asyncapi_document()

    @router.get(ASYNCAPI_PAGE_PATH)
    async def asyncapi_page() -> HTMLResponse:
        return HTMLResponse(render_asyncapi(asyncapi_document(), ASYNCAPI_JSON_PATH))

    app.include_router(router)
    app.mount(ASSETS_PATH, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui-assets")

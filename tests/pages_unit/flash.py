"""The one-line message a page's form leaves for the next page (api.pages.core.back_to): read
from the redirect's cookie, and never in the address it redirects to."""

from __future__ import annotations

from api.pages.core import FLASH_COOKIE, read_flash


def flash_of(response) -> dict[str, str]:
    location = response.headers.get("location", "")
    assert "done=" not in location and "problem=" not in location, location
    return read_flash(response.cookies.get(FLASH_COOKIE))


def done_of(response) -> str:
    return flash_of(response).get("done", "")


def problem_of(response) -> str:
    return flash_of(response).get("problem", "")

"""The group pages: recurring objects of a camera, side by side, labelled once."""

from __future__ import annotations

from fastapi import APIRouter

from lookout.web.routes import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)

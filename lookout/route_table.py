"""Routes a domain declares, built once, on the app's own router.

An `APIRouter` builds each route when its decorator runs (the endpoint's dependencies and a
pydantic adapter per parameter and response), and FastAPI 0.16x builds every route of an
included router a second time, with the prefix and responses of the inclusion, on the first
request that reaches it: about 270 ms of a server worker's CPU for Lookout's 135 routes,
paid by each worker before its first answers. A `RouteTable` only notes what its decorators
are given; `install` adds those routes to the app's router, where each is built once and
served directly.

Decorators take `APIRouter.add_api_route`'s keywords; the table's prefix, tags and
dependencies go before each route's, as an `APIRouter`'s do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import APIRouter, params
from fastapi.routing import APIRoute

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


@dataclass(frozen=True)
class _Declared:
    path: str
    method: str
    endpoint: Callable[..., Any]
    options: dict[str, Any]


@dataclass
class RouteTable:
    """A domain's routes, noted by its decorators until `install` builds them."""

    prefix: str = ""
    tags: Sequence[str] = ()
    dependencies: Sequence[params.Depends] = ()
    route_class: type[APIRoute] = APIRoute
    include_in_schema: bool = True
    declared: list[_Declared] = field(default_factory=list)

    def get(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        return self._declare("GET", path, options)

    def post(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        return self._declare("POST", path, options)

    def put(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        return self._declare("PUT", path, options)

    def patch(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        return self._declare("PATCH", path, options)

    def delete(self, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        return self._declare("DELETE", path, options)

    def _declare(
        self, method: str, path: str, options: dict[str, Any]
    ) -> Callable[[Endpoint], Endpoint]:
        def note(endpoint: Endpoint) -> Endpoint:
            self.declared.append(_Declared(self.prefix + path, method, endpoint, options))
            return endpoint

        return note

    def install(self, router: APIRouter, *, responses: dict[int | str, Any] | None = None) -> None:
        """Build the routes on `router`, in their order; `responses` documents every one
        (a route's own responses override them)."""
        for route in self.declared:
            options = dict(route.options)
            router.add_api_route(
                route.path,
                route.endpoint,
                methods=[route.method],
                tags=[*self.tags, *options.pop("tags", ())],
                dependencies=[*self.dependencies, *options.pop("dependencies", ())],
                responses={**(responses or {}), **options.pop("responses", {})},
                include_in_schema=self.include_in_schema and options.pop("include_in_schema", True),
                route_class_override=self.route_class,
                **options,
            )

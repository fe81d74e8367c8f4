"""Routes a domain declares, built once, on the app's own router.

An `APIRouter` builds each route when its decorator runs (the endpoint's dependencies and a
pydantic adapter per parameter and response), and FastAPI 0.16x builds every route of an
included router a second time, with the prefix and responses of the inclusion, on the first
request that reaches it: about 270 ms of a server worker's CPU for Lookout's 135 routes,
paid by each worker before its first answers. A `RouteTable` only notes what its decorators
are given; `install` adds those routes to the app's router, where each is built once and
served directly. Each route's build waits for its first use (`deferred`): a worker starts
answering before it has built routes it may never serve.

Decorators take `APIRouter.add_api_route`'s keywords; the table's prefix, tags and
dependencies go before each route's, as an `APIRouter`'s do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import APIRouter, params
from fastapi.routing import APIRoute
from starlette.routing import compile_path, get_name

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


@dataclass(frozen=True)
class _Declared:
    path: str
    method: str
    endpoint: Callable[..., Any]
    options: dict[str, Any]


_BUILD_LOCK = threading.RLock()


class _DeferredBuild:
    """Keeps what a route needs to be matched, named and listed, and builds the rest of it
    (FastAPI's dependant, body and response fields: about 2 ms a route) when any of it is
    first read: at the route's first request, or when the OpenAPI document is made.

    A route that cannot be built fails there instead of at the app's start; the test suite
    builds every route (`build_all`) so a mistake is still found before a release.
    """

    _built_names: frozenset[str]

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        self.path = path
        self.endpoint = endpoint
        self.name = options.get("name") or get_name(endpoint)
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self.methods = {method.upper() for method in options.get("methods") or ("GET",)}
        self.include_in_schema = options.get("include_in_schema", True)
        self._pending: tuple[str, Callable[..., Any], dict[str, Any]] | None = (
            path,
            endpoint,
            options,
        )
        self._building = False

    def __getattr__(self, name: str) -> Any:
        # Only called for an attribute not set yet; names the build does not set stay missing.
        if name not in self._built_names or self.__dict__.get("_pending") is None:
            raise AttributeError(name)
        self.build()
        return object.__getattribute__(self, name)

    def build(self) -> None:
        """Build the route now, once, whichever thread asks first."""
        with _BUILD_LOCK:
            if self._pending is None or self._building:
                return
            path, endpoint, options = self._pending
            extra = options.get("openapi_extra")
            if callable(extra):  # a part of the document made at the build (openapi_body)
                options = {**options, "openapi_extra": extra()}
            self._building = True
            try:
                super().__init__(path, endpoint, **options)  # type: ignore[call-arg]
            finally:
                self._building = False
            self._pending = None


_DEFERRED: dict[type[APIRoute], type[APIRoute]] = {}


def deferred(route_class: type[APIRoute]) -> type[APIRoute]:
    """`route_class` built at its first use instead of when it is added to a router."""
    if route_class not in _DEFERRED:
        built = {"app", "form_limits"}  # what the build sets beside the annotated attributes
        for cls in route_class.__mro__:
            built.update(getattr(cls, "__annotations__", {}))
        attributes = {"_built_names": frozenset(built), "__doc__": route_class.__doc__}
        _DEFERRED[route_class] = type(
            route_class.__name__, (_DeferredBuild, route_class), attributes
        )
    return _DEFERRED[route_class]


def build_all(routes: Sequence[Any]) -> None:
    """Build every deferred route of `routes` now."""
    for route in routes:
        if isinstance(route, _DeferredBuild):
            route.build()


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
                route_class_override=deferred(self.route_class),
                **options,
            )

"""Who may call what: one rule per route of the app, and what each kind of caller gets.

The route list comes from the app itself (its OpenAPI paths and a walk of its router, which
also finds the web pages, the storage routes and the mounted static folders), so a route added
without a rule here fails `test_every_route_has_an_access_rule` naming the route.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from starlette.routing import Mount

# --- rule kinds ------------------------------------------------------------------------------

PUBLIC = "public"  # no credentials needed (health, API docs, static files, the home redirect)
USER = "user"  # any authenticated caller; answers only with the caller's groups' objects
PROJECT = "project-member"  # an object of a project: members and admins only, others 404
HMAC = "hmac-signed"  # pipeline callbacks: an HMAC signature (v1 or the document's legacy)
HMAC_V1 = "hmac-v1"  # work-queue callbacks: Lookout's v1 signature only
# A status change: signed like HMAC, or (as in VISTA) sent by a member of the project's group.
HMAC_OR_PROJECT = "hmac-or-project-member"
OWN = "own"  # the caller's own row (their API key): nobody else's, not even an admin's
# A person's own words (editing a comment): its author only; other members and admins 403.
AUTHOR = "author"
# Taking back what a person did (a comment, a classification): its author or an admin.
AUTHOR_OR_ADMIN = "author-or-admin"
# Minting an API key: a person (proxy session, local mode), never another API key.
KEY_MINTING = "key-minting"
ADMIN_ONLY = "admin-only"  # managing users and groups: an admin's credentials, others 403
SIGNED_KINDS = (HMAC, HMAC_V1, HMAC_OR_PROJECT)  # routes whose signatures are spent once
PRESIGNED = "storage-presigned"  # the local backend's presigned URLs: the URL is the credential

# --- callers (the columns of the matrix) -------------------------------------------------------

MEMBER = "member"  # API key of a member of the owning group
OTHER_GROUP = "other-group"  # API key of a member of another group
ADMIN = "admin"  # API key of an admin who belongs to no group
PROXY_MEMBER = "proxy-member"  # the reverse proxy's headers for a member, from the same site
NO_CREDENTIALS = "no-credentials"
REVOKED_KEY = "revoked-key"
EXPIRED_KEY = "expired-key"
SIGNED = "signed"  # a valid v1 HMAC signature (a valid presigned URL for storage routes)
LEGACY_SIGNED = "legacy-signed"  # the ML document's raw-body signature
BAD_SIGNATURE = "bad-signature"  # signed with the wrong secret (another object's URL signature)
REPLAYED_SIGNATURE = "replayed-signature"  # a signature already used (an expired URL)

CALLERS = (
    MEMBER,
    OTHER_GROUP,
    ADMIN,
    PROXY_MEMBER,
    NO_CREDENTIALS,
    REVOKED_KEY,
    EXPIRED_KEY,
    SIGNED,
    LEGACY_SIGNED,
    BAD_SIGNATURE,
    REPLAYED_SIGNATURE,
)

OK = "ok"  # 2xx (3xx for redirects); for OTHER_GROUP on USER routes: nothing of the owners shown


def _expect(allowed: Iterable[str], denied: int, **special: Any) -> dict[str, Any]:
    table = {caller: (OK if caller in allowed else denied) for caller in CALLERS}
    table.update({name.replace("_", "-"): value for name, value in special.items()})
    return table


# What each caller gets from each kind of route.
EXPECTED: dict[str, dict[str, Any]] = {
    PUBLIC: _expect(CALLERS, 0),
    USER: _expect({MEMBER, OTHER_GROUP, ADMIN, PROXY_MEMBER}, 401),
    PROJECT: _expect({MEMBER, ADMIN, PROXY_MEMBER}, 401, other_group=404),
    HMAC: _expect({SIGNED, LEGACY_SIGNED}, 401),
    HMAC_V1: _expect({SIGNED}, 401),
    OWN: _expect({MEMBER}, 401, other_group=404, admin=404, proxy_member=404),
    # The example's comment or classification is the member's (alice's); the proxy member
    # (bob) is another member of the same group.
    AUTHOR: _expect({MEMBER}, 401, other_group=404, admin=403, proxy_member=403),
    AUTHOR_OR_ADMIN: _expect({MEMBER, ADMIN}, 401, other_group=404, proxy_member=403),
    KEY_MINTING: _expect({PROXY_MEMBER}, 401, member=403, other_group=403, admin=403),
    ADMIN_ONLY: _expect({ADMIN}, 401, member=403, other_group=403, proxy_member=403),
    HMAC_OR_PROJECT: _expect(
        {MEMBER, ADMIN, PROXY_MEMBER, SIGNED, LEGACY_SIGNED}, 401, other_group=404
    ),
    # Without `expires` and `signature` the URL is malformed (422: required query parameters);
    # a signature of another object, or an expired URL, is refused (403). Keys do not count.
    PRESIGNED: _expect({SIGNED}, 422, bad_signature=403, replayed_signature=403),
}

# --- the rules: every route of the app, by method and path template ------------------------

RULES: dict[str, str] = {
    # API docs, health, static files
    "GET /openapi.json": PUBLIC,
    "GET /docs": PUBLIC,
    "GET /docs/oauth2-redirect": PUBLIC,
    "MOUNT /apidocs/static": PUBLIC,
    "MOUNT /static": PUBLIC,
    "GET /api/health": PUBLIC,
    "GET /api/ready": PUBLIC,
    # a user's own account
    "GET /api/users/me": USER,
    "GET /api/users/me/groups": USER,
    "GET /api/api-keys": USER,
    "POST /api/api-keys": KEY_MINTING,
    "DELETE /api/api-keys/{api_key_id}": OWN,
    # accounts, for admins
    "GET /api/admin/users": ADMIN_ONLY,
    "POST /api/admin/users": ADMIN_ONLY,
    "PATCH /api/admin/users/{user_id}": ADMIN_ONLY,
    "GET /api/admin/groups": ADMIN_ONLY,
    "POST /api/admin/groups": ADMIN_ONLY,
    "PUT /api/admin/groups/{group_id}/members/{user_id}": ADMIN_ONLY,
    "DELETE /api/admin/groups/{group_id}/members/{user_id}": ADMIN_ONLY,
    # projects and images
    "GET /api/projects": USER,
    "POST /api/projects": USER,
    "GET /api/projects/{project_id}": PROJECT,
    "DELETE /api/projects/{project_id}": PROJECT,
    "PATCH /api/projects/{project_id}": PROJECT,
    "GET /api/projects/{project_id}/camera-stats": PROJECT,
    "POST /api/projects/{project_id}/images": PROJECT,
    "GET /api/projects/{project_id}/images": PROJECT,
    "GET /api/images/{image_id}": PROJECT,
    "DELETE /api/images/{image_id}": PROJECT,
    "GET /api/images/{image_id}/content": PROJECT,
    "GET /api/images/{image_id}/thumbnail": PROJECT,
    "GET /api/images/{image_id}/download": PROJECT,
    # the trash (forcing a purge is an admin's: tests/images/test_trash.py)
    "DELETE /api/projects/{project_id}/images/{image_id}": PROJECT,
    "POST /api/projects/{project_id}/images/{image_id}/restore": PROJECT,
    "GET /api/projects/{project_id}/images/deletion-events": PROJECT,
    "GET /api/projects/{project_id}/deletion-events": PROJECT,
    # sequences in the trash (forcing a purge: tests/sequences/test_sequence_trash.py)
    "DELETE /api/sequences/{sequence_id}": PROJECT,
    "POST /api/sequences/{sequence_id}/restore": PROJECT,
    # metadata of images and projects (VISTA's paths)
    "PUT /api/images/{image_id}/metadata": PROJECT,
    "PATCH /api/images/{image_id}/metadata": PROJECT,
    "DELETE /api/images/{image_id}/metadata/{key}": PROJECT,
    "GET /api/projects/{project_id}/metadata": PROJECT,
    "POST /api/projects/{project_id}/metadata": PROJECT,
    "GET /api/projects/{project_id}/metadata-dict": PROJECT,
    "PUT /api/projects/{project_id}/metadata-dict": PROJECT,
    "GET /api/projects/{project_id}/metadata/{key}": PROJECT,
    "PUT /api/projects/{project_id}/metadata/{key}": PROJECT,
    "DELETE /api/projects/{project_id}/metadata/{key}": PROJECT,
    # image classes and classifications
    "GET /api/projects/{project_id}/classes": PROJECT,
    "POST /api/projects/{project_id}/classes": PROJECT,
    "GET /api/classes/{class_id}": PROJECT,
    "PATCH /api/classes/{class_id}": PROJECT,
    "DELETE /api/classes/{class_id}": PROJECT,
    "GET /api/images/{image_id}/classifications": PROJECT,
    "POST /api/images/{image_id}/classifications": PROJECT,
    "DELETE /api/classifications/{classification_id}": AUTHOR_OR_ADMIN,
    # comments on images and sequences
    "GET /api/images/{image_id}/comments": PROJECT,
    "POST /api/images/{image_id}/comments": PROJECT,
    "GET /api/sequences/{sequence_id}/comments": PROJECT,
    "POST /api/sequences/{sequence_id}/comments": PROJECT,
    "GET /api/comments/{comment_id}": PROJECT,
    "PATCH /api/comments/{comment_id}": AUTHOR,
    "DELETE /api/comments/{comment_id}": AUTHOR_OR_ADMIN,
    # cameras, sequences, frames, reviews
    "POST /api/cameras": PROJECT,
    "POST /api/sequences": PROJECT,
    "GET /api/sequences": USER,
    "GET /api/sequences/{sequence_id}": PROJECT,
    "POST /api/sequences/{sequence_id}/frames": PROJECT,
    "POST /api/sequences/{sequence_id}/frames:batch": PROJECT,
    "POST /api/sequences/{sequence_id}/draft": PROJECT,
    "PUT /api/sequences/{sequence_id}/split": PROJECT,
    "GET /api/sequences/{sequence_id}/review": PROJECT,
    "PUT /api/sequences/{sequence_id}/review": PROJECT,
    "POST /api/sequences/{sequence_id}/review/send-back": PROJECT,
    "GET /api/sequences/{sequence_id}/review/versions": PROJECT,
    "GET /api/sequences/{sequence_id}/review/versions/{version}": PROJECT,
    "POST /api/sequences/{sequence_id}/review/versions/{version}/restore": PROJECT,
    # the review queue and the reviewers' statistics
    "POST /api/review-queue/claim": USER,
    "POST /api/review-queue/renew": PROJECT,
    "POST /api/review-queue/release": PROJECT,
    "POST /api/review-queue/skip": PROJECT,
    "GET /api/review-queue/skipped": USER,
    "DELETE /api/review-queue/skipped/{sequence_id}": PROJECT,
    "GET /api/review-queue": USER,
    "GET /api/review-stats": USER,
    "GET /api/reviews/changes": USER,
    # groups of recurring objects
    "GET /api/groups": USER,
    "GET /api/groups/{group_id}": PROJECT,
    "POST /api/groups/{group_id}/decision": PROJECT,
    "DELETE /api/groups/{group_id}/members/{member_id}": PROJECT,
    "PUT /api/projects/{project_id}/group-settings": PROJECT,
    # ML analyses: user endpoints
    "POST /api/images/{image_id}/analyses": PROJECT,
    "GET /api/images/{image_id}/analyses": PROJECT,
    "GET /api/images/{image_id}/analyses/compare": PROJECT,
    "GET /api/analyses/{analysis_id}": PROJECT,
    "DELETE /api/analyses/{analysis_id}": PROJECT,
    "GET /api/analyses/{analysis_id}/annotations": PROJECT,
    "GET /api/analyses/{analysis_id}/export": PROJECT,
    "GET /api/analyses/{analysis_id}/artifacts": PROJECT,
    "GET /api/analyses/{analysis_id}/artifacts/{artifact_name}": PROJECT,
    "GET /api/analyses/{analysis_id}/artifacts/{artifact_name}/url": PROJECT,
    "GET /api/ml/artifacts/download": PROJECT,
    "GET /api/ml/artifacts/content": PROJECT,
    "POST /api/projects/{project_id}/analyses:queue": PROJECT,
    # ML analyses: pipeline callbacks
    "PATCH /api/analyses/{analysis_id}/status": HMAC_OR_PROJECT,
    "POST /api/analyses/{analysis_id}/artifacts/presign": HMAC,
    "POST /api/analyses/{analysis_id}/annotations:bulk": HMAC,
    "POST /api/analyses/{analysis_id}/finalize": HMAC,
    # work queue: workers
    "POST /api/analyses:claim": HMAC_V1,
    "POST /api/analyses/{analysis_id}/heartbeat": HMAC_V1,
    "POST /api/analyses/{analysis_id}/release": HMAC_V1,
    "GET /api/analyses/{analysis_id}/image": HMAC_V1,
    # local storage's presigned URLs
    "PUT /storage/objects/{key:path}": PRESIGNED,
    "GET /storage/objects/{key:path}": PRESIGNED,
    # exports and evaluations
    "GET /api/exports": PROJECT,
    "POST /api/evaluations": PROJECT,
    "GET /api/evaluations": USER,
    "GET /api/evaluations/compare": PROJECT,
    "GET /api/evaluations/models": PROJECT,
    "GET /api/evaluations/{evaluation_id}": PROJECT,
    "DELETE /api/evaluations/{evaluation_id}": PROJECT,
    "GET /api/evaluations/{evaluation_id}/outcomes": PROJECT,
    # web pages
    "GET /": PUBLIC,  # a redirect to /projects, which asks for credentials
    "GET /projects": USER,
    "GET /projects/{project_id}": PROJECT,
    "GET /projects/{project_id}/evaluation": PROJECT,
    "GET /projects/{project_id}/trash": PROJECT,
    "GET /images/{image_id}": PROJECT,
    "GET /images/{image_id}/compare": PROJECT,
    "GET /sequences": USER,
    "GET /sequences/queue": USER,
    "GET /sequences/next": PROJECT,  # asked for what follows one of the owners' sequences
    "GET /sequences/{sequence_id}": PROJECT,
    "GET /reviewers": USER,
    "GET /account": USER,
    "GET /admin": ADMIN_ONLY,
    "GET /groups": USER,
    "GET /groups/{group_id}": PROJECT,
}

# --- VISTA's prefixes (lookout/aliases.py): every /api route is served under these too -----

ALIASES = ("/api-key", "/api-ml")

# The callers the aliases are checked for: one of each way a credential is checked (a key
# allowed, a key of another group, a refused key, proxy headers with their cross-site rule, none,
# each signature scheme and a replay). The admin's key, the expired key and a wrong secret go
# through the same checks as the member's key, the revoked key and a v1 signature of another
# path; leaving them out keeps the alias pass near the main matrix's time.
ALIAS_CALLERS = (
    MEMBER,
    OTHER_GROUP,
    PROXY_MEMBER,
    NO_CREDENTIALS,
    REVOKED_KEY,
    SIGNED,
    LEGACY_SIGNED,
    REPLAYED_SIGNATURE,
)


def api_routes() -> list[str]:
    """The rules' routes under /api: the ones the aliases serve, with the same rule."""
    return sorted(route for route in RULES if route.split(" ", 1)[1].startswith("/api/"))


def aliased(path: str, alias: str) -> str:
    """An /api path (query allowed) spelled under an alias prefix."""
    assert path.startswith("/api/"), path
    return alias + path.removeprefix("/api")


HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def flatten_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Routes of a router, included routers opened up.

    FastAPI 0.16x keeps included routers as `_IncludedRouter` entries in `app.routes`; their
    routes (with the prefixes they were included with) are their `effective_candidates()`.
    """
    for route in routes:
        candidates = getattr(route, "effective_candidates", None)
        if candidates is not None:
            yield from flatten_routes(candidates())
        else:
            yield route


def app_routes(app: Any) -> set[str]:
    """Every route of the app as "METHOD /path" (and "MOUNT /path" for mounted folders)."""
    found: set[str] = set()
    for path, operations in app.openapi()["paths"].items():
        found.update(f"{m.upper()} {path}" for m in operations if m in HTTP_METHODS)
    for route in flatten_routes(app.router.routes):
        if isinstance(route, Mount):
            found.add(f"MOUNT {route.path}")
            continue
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":  # Starlette adds HEAD to every GET route
                found.add(f"{method} {route.path}")
    return found


def unruled(app: Any) -> list[str]:
    """Routes of the app that no rule covers."""
    return sorted(app_routes(app) - set(RULES))


def stale(app: Any) -> list[str]:
    """Rules naming routes the app no longer has."""
    return sorted(set(RULES) - app_routes(app))

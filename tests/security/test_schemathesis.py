"""schemathesis over the app's /openapi.json: every operation, valid and invalid inputs.

Each operation gets a bounded number of generated requests (`size`: a few in CI, a hundred
with LOOKOUT_RELIABILITY_FULL=1), half of them valid by the schema and half not, sent to a live
server as a member of the owning group (pipeline callbacks are signed with the v1 scheme), with
path parameters naming the world's real objects half of the time so requests reach the code
behind the lookups. Every answer must be free of server errors and match the schema: a
documented status code, the documented content type and the documented body.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lookout.pipeline.signing import sign_request
from tests.conftest import HMAC_SECRET
from tests.reliability.record import FULL, record, size
from tests.security import access_rules as rules
from tests.security.conftest import ARTIFACT, SecurityWorld
from tests.support import jpeg_bytes

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


class SigningSession(requests.Session):
    """Signs every request it sends with Lookout's v1 scheme, over the exact bytes sent."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        body = request.body or b""
        raw = body.encode() if isinstance(body, str) else body
        assert isinstance(raw, bytes)
        request.headers.update(
            sign_request(HMAC_SECRET, request.method or "GET", request.path_url, raw)
        )
        return super().send(request, **kwargs)


@dataclass
class Tally:
    """One operation's cases: what was sent, what came back, what failed (once per kind)."""

    route: str
    session: requests.Session
    base_url: str
    cases: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def send(self, case: Any) -> None:
        """Send one case and check its answer; failures are collected, not raised."""
        response = case.call(base_url=self.base_url, session=self.session)
        self.cases += 1
        self.by_status[response.status_code] = self.by_status.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                first_line = (failure.message.splitlines() or [""])[0][:200]
                example = f"{failure.message[:400]}\n    {case.as_curl_command()[:400]}"
                self.failures.setdefault(f"{self.route}: {failure.title}: {first_line}", example)


def _labels(w: SecurityWorld, project_id: str, image_id: str) -> dict[str, str]:
    """A class given to the image, a comment on it and a metadata key `owner` on both."""
    member = w.member
    klass = member.post(f"/api/projects/{project_id}/classes", json={"name": w.unique("c")})
    given = member.post(
        f"/api/images/{image_id}/classifications", json={"class_id": klass.json()["id"]}
    )
    comment = member.post(f"/api/images/{image_id}/comments", json={"text": "a note"})
    member.put(f"/api/projects/{project_id}/metadata/owner", json={"value": "ops"})
    member.put(f"/api/images/{image_id}/metadata", json={"key": "owner", "value": "ops"})
    return {
        "class_id": klass.json()["id"],
        "classification_id": given.json()["id"],
        "comment_id": comment.json()["id"],
        "key": "owner",
    }


def doomed_ids(w: SecurityWorld) -> dict[str, str]:
    """Objects of their own for the deletions (made first: generated writes may change the
    world's review, after which no evaluation could be made)."""
    ids = {
        "project_id": w.fresh_project(),
        "image_id": w.fresh_image(),
        "sequence_id": w.fresh_sequence(),
        "analysis_id": w.fresh_analysis(),
        "evaluation_id": w.fresh_evaluation(),
    }
    # Classes, comments and metadata of the world's project (a fresh one would go first).
    return {**ids, **_labels(w, w.project_id, ids["image_id"])}


def real_ids(w: SecurityWorld) -> dict[str, str]:
    """Path parameters naming the world's real objects."""
    return {
        "project_id": w.project_id,
        "image_id": w.image_id,
        "sequence_id": w.sequence.id,
        "analysis_id": w.analysis_id,
        "evaluation_id": w.evaluation_id,
        "artifact_name": ARTIFACT,
        **_labels(w, w.project_id, w.image_id),
    }


def strategy_for(operation: Any, ids: dict[str, str]) -> st.SearchStrategy[Any]:
    """Valid and invalid cases, with generated or real path parameters."""
    names = {p.name for p in operation.path_parameters}
    fixed = {name: value for name, value in ids.items() if name in names}
    choices: list[dict[str, str] | None] = [None, fixed] if fixed else [None]
    return st.one_of(
        *(
            operation.as_strategy(generation_mode=mode, path_parameters=params)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            for params in choices
        )
    )


def exercise(
    operation: Any, strategy: st.SearchStrategy[Any], examples: int, send: Callable[[Any], None]
) -> None:
    """Run `examples` generated cases through `send` (failures are collected, not raised)."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not FULL,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(strategy)
    def run(case: Any) -> None:
        send(case)

    run()


def test_every_operation_answers_without_server_errors_and_by_the_schema(
    security_world: SecurityWorld,
) -> None:
    w = security_world
    schema = schemathesis.openapi.from_url(f"{w.url}/openapi.json")
    member = requests.Session()
    member.headers["X-API-Key"] = w.member_key
    signer = SigningSession()
    examples = size(10, 100)
    tallies: dict[str, Tally] = {}
    doomed, real = doomed_ids(w), real_ids(w)
    operations = [result.ok() for result in schema.get_all_operations()]
    # Deletions last, so the other operations find the world's objects in place.
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    for operation in operations:
        route = f"{operation.method.upper()} {operation.path}"
        signed = rules.RULES.get(route) in rules.SIGNED_KINDS
        tally = tallies.setdefault(route, Tally(route, signer if signed else member, w.url))
        ids = doomed if operation.method.upper() == "DELETE" else real
        exercise(operation, strategy_for(operation, ids), examples, tally.send)
    failures = [
        f"{kind}\n  {example}" for t in tallies.values() for kind, example in t.failures.items()
    ]
    cases = sum(t.cases for t in tallies.values())
    statuses: dict[int, int] = {}
    for tally in tallies.values():
        for status, count in tally.by_status.items():
            statuses[status] = statuses.get(status, 0) + count
    record(
        f"schemathesis over /openapi.json ({w.lookout.backend})",
        operations_tested=len(tallies),
        cases_sent=cases,
        answers_2xx=sum(c for s, c in statuses.items() if s < 300),
        answers_4xx=sum(c for s, c in statuses.items() if 400 <= s < 500),
        answers_5xx=sum(c for s, c in statuses.items() if s >= 500),
        operations_answered_2xx=sum(any(s < 300 for s in t.by_status) for t in tallies.values()),
        failures=len(failures),
    )
    assert all(t.cases for t in tallies.values()) and len(tallies) > 40
    assert failures == [], "\n".join(failures)
    # Requests reached the code behind the lookups, not only the validation layer.
    answered = [r for r, t in tallies.items() if any(s < 300 for s in t.by_status)]
    assert len(answered) >= len(tallies) // 2, sorted(set(tallies) - set(answered))


HUGE = "17440213467250068712490795008"  # beyond any SQL integer (found by schemathesis)


def test_huge_offsets_are_refused_not_a_server_error(security_world: SecurityWorld) -> None:
    """An offset past 64 bits overflowed the database driver: 500 on every paged listing."""
    w = security_world
    paged = [
        f"/api/analyses/{w.analysis_id}?annotations_offset={HUGE}",
        f"/api/analyses/{w.analysis_id}/annotations?offset={HUGE}",
        f"/api/images/{w.image_id}/analyses?offset={HUGE}",
        f"/api/sequences?offset={HUGE}",
        f"/api/evaluations/{w.evaluation_id}/outcomes?offset={HUGE}",
    ]
    for path in paged:
        response = w.member.get(path)
        assert response.status_code == 422, (path, response.text)
    # The pages read their offset leniently: far beyond the end is an empty page.
    page = w.member.get(f"/sequences?offset={HUGE}")
    assert page.status_code == 200, page.text
    assert w.sequence.id not in page.text


def test_nul_characters_are_refused_not_a_server_error(security_world: SecurityWorld) -> None:
    """PostgreSQL cannot store NUL in text: such values were a 500 (found by schemathesis)."""
    w = security_world
    nul = "nul\x00byte"
    sends = {
        "project name": lambda: w.member.post("/api/projects", json={"name": nul}),
        "project description": lambda: w.member.post(
            "/api/projects", json={"name": w.unique("p"), "description": nul}
        ),
        "camera name": lambda: w.member.post(
            "/api/cameras",
            json={"project_id": w.project_id, "source": "s", "source_id": "c", "name": nul},
        ),
        "evaluations by model": lambda: w.member.get(
            "/api/evaluations", params={"model_name": nul}
        ),
        "images by model": lambda: w.member.get(
            f"/api/projects/{w.project_id}/images", params={"model_name": nul}
        ),
        "sequences by organization": lambda: w.member.get(
            "/api/sequences", params={"organization": nul}
        ),
        "annotations by class": lambda: w.member.get(
            f"/api/analyses/{w.analysis_id}/annotations", params={"class_name": nul}
        ),
        "outcomes by class": lambda: w.member.get(
            f"/api/evaluations/{w.evaluation_id}/outcomes", params={"class_name": nul}
        ),
        "upload source id": lambda: w.member.post(
            f"/api/projects/{w.project_id}/images",
            files={"file": ("f.jpg", jpeg_bytes(), "image/jpeg")},
            data={"source": "s", "source_id": nul},
        ),
        "gallery page by model": lambda: w.member.get(
            f"/projects/{w.project_id}", params={"model": nul}
        ),
    }
    answers = {what: send().status_code for what, send in sends.items()}
    assert all(code < 500 for code in answers.values()), answers
    if w.lookout.backend == "postgres":  # SQLite stores NUL; PostgreSQL refuses it: a 400
        assert all(code in (200, 400) for code in answers.values()), answers


def test_repeated_creations_answer_as_documented(security_world: SecurityWorld) -> None:
    """Creations that answer 200 with what already exists: the answer matches the schema
    (POST /api/projects with exist_ok answered an undocumented 200, found by schemathesis)."""
    w = security_world
    schema = schemathesis.openapi.from_url(f"{w.url}/openapi.json")
    files = {"file": ("f.jpg", jpeg_bytes(), "image/jpeg")}
    metadata = {"metadata": '{"source": "repeat", "source_id": "frame-1"}'}
    camera = {"project_id": w.project_id, "source": "repeat", "source_id": "c1", "name": "c"}
    sequence = {
        "project_id": w.project_id,
        "source": "repeat",
        "source_id": "s1",
        "started_at": "2024-06-01T10:00:00Z",
    }
    repeats = {
        ("/api/projects", "POST"): lambda: w.member.post(
            "/api/projects", json={"name": "repeat", "exist_ok": True}
        ),
        ("/api/cameras", "POST"): lambda: w.member.post("/api/cameras", json=camera),
        ("/api/sequences", "POST"): lambda: w.member.post("/api/sequences", json=sequence),
        ("/api/projects/{project_id}/images", "POST"): lambda: w.member.post(
            f"/api/projects/{w.project_id}/images",
            files=files,
            data={"source": "repeat", "source_id": "image-1"},
        ),
        ("/api/sequences/{sequence_id}/frames", "POST"): lambda: w.member.post(
            f"/api/sequences/{w.sequence.id}/frames", files=files, data=metadata
        ),
    }
    for (path, method), send in repeats.items():
        first, again = send(), send()
        assert (first.status_code, again.status_code) == (201, 200), (path, again.text)
        again.request.read()  # schemathesis reads what was sent (multipart is a stream)
        schema[path][method].validate_response(again)

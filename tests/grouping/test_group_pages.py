"""The group pages and the review page's group line, served to a member and to an outsider."""

from __future__ import annotations

from typing import Any

from tests.grouping.conftest import ANTENNA, CHIMNEY, Camera


def test_group_pages_show_members_and_link_from_the_review(camera: Camera, lookout: Any) -> None:
    for day in (1, 2, 3):
        camera.sequence(f"day-{day}", day, [ANTENNA], score=0.5 + day / 10)
    camera.sequence("once", 4, [CHIMNEY])
    client = camera.client
    group = next(g for g in camera.groups() if g["member_count"] == 3)

    listing = client.get("/groups")
    assert listing.status_code == 200
    assert f'href="/groups/{group["id"]}"' in listing.text
    assert listing.text.count('class="strong-link" href="/groups/') == 1  # recurring only
    everything = client.get("/groups", params={"min_members": "1", "decided": "false"})
    assert everything.text.count('class="strong-link" href="/groups/') == 2

    page = client.get(f"/groups/{group['id']}")
    assert page.status_code == 200
    assert page.text.count('class="crop-card') == 3
    assert "score 0.60" in page.text and "score 0.80" in page.text
    assert 'id="decide"' in page.text and "Undecided." in page.text

    review = client.get(f"/sequences/{camera.sequences['day-2']}")
    assert f'href="/groups/{group["id"]}"' in review.text and "undecided" in review.text
    camera.decide(group["id"], decision="false_positive", false_positive_types=["antenna"])
    review = client.get(f"/sequences/{camera.sequences['day-2']}")
    assert "decided: false positive (antenna)" in review.text
    assert 'id="groups-link"' in client.get("/sequences").text

    outsider = lookout.keyed_client("olaf@example.org", "elsewhere")
    hidden = outsider.get(f"/groups/{group['id']}")
    assert hidden.status_code == 404 and "Ridge" not in hidden.text
    assert group["id"] not in outsider.get("/groups").text
    assert client.get("/groups/not-a-group").status_code == 404
    assert "is not an id" in client.get("/groups", params={"camera_id": "x"}).text

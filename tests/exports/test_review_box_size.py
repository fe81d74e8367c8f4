"""Truth that training tools accept: the review API refuses boxes under one pixel (422 naming
the box), so no export carries an empty box."""

from __future__ import annotations

from tests.exports.builders import make_world


def _put(world, seq, xyxyn):
    body = {
        "processing_stage": "annotated",
        "tracks": [
            {"decision": "smoke", "boxes": [{"frame_id": seq.frames[1], "xyxyn": xyxyn}]},
        ],
    }
    return world.client.put(f"/api/sequences/{seq.id}/review", json=body)


def test_sub_pixel_boxes_are_refused_naming_the_box(lookout):
    world = make_world(lookout)
    seq = world.add_sequence("tiny", frames=2, size=(64, 48))
    refused = _put(world, seq, [0.5, 0.5, 0.505, 0.6])  # 0.32 px wide on a 64 px frame
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["field"] == "tracks[0].boxes[0].xyxyn"
    assert "0.32 x 4.80 px" in body["detail"] and "at least 1 px" in body["detail"]
    one_pixel = _put(world, seq, [0.5, 0.5, 0.5 + 1 / 64, 0.5 + 1 / 48])
    assert one_pixel.status_code in (200, 201), one_pixel.text

"""Ids made in bulk are random version-4 UUIDs like `uuid.uuid4()`'s, all different."""

from __future__ import annotations

import uuid

from lookout.db import new_ids


def test_ids_made_in_bulk_are_distinct_version_4_uuids() -> None:
    ids = new_ids(5000)
    assert len(ids) == 5000 and len(set(ids)) == 5000
    assert {i.version for i in ids} == {4}
    assert {i.variant for i in ids} == {uuid.RFC_4122}
    assert new_ids(0) == []
    assert set(new_ids(100)).isdisjoint(ids)  # a second batch shares none with the first


def test_ids_made_in_bulk_behave_as_uuids_made_by_the_standard_library() -> None:
    for made in new_ids(200):
        same = uuid.UUID(str(made))
        assert made == same and hash(made) == hash(same) and made.int == same.int
        assert made.bytes == same.bytes and made.hex == same.hex and str(made) == str(same)
        assert made.is_safe is uuid.SafeUUID.unknown
        assert uuid.UUID(bytes=made.bytes, version=4) == made  # the bits uuid4() sets are set
    assert sorted(new_ids(50)) != []  # ordered like any UUIDs (by their integers)

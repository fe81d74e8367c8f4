"""`lookout sequence-groups list|show|decide`, run as a user runs them."""

from __future__ import annotations

import json

from tests.exports.test_cli_commands import run
from tests.grouping.conftest import ANTENNA, Camera


def test_list_show_and_decide_from_the_command_line(camera: Camera) -> None:
    for day in (1, 2):
        camera.sequence(f"day-{day}", day, [ANTENNA])
    lookout = camera.world.lookout
    user = ("--user", "gina@example.org")

    listed = run(lookout, "sequence-groups", "list", "--project", "ridge", "--json", *user)
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)["items"]
    assert [g["member_count"] for g in items] == [2]
    group_id = items[0]["id"]

    shown = run(lookout, "sequence-groups", "show", group_id, *user)
    assert shown.returncode == 0, shown.stderr
    assert "2 sequence(s)" in shown.stdout and "undecided" in shown.stdout

    decided = run(
        lookout,
        "sequence-groups",
        "decide",
        group_id,
        "--decision",
        "false_positive",
        "--fp-type",
        "antenna",
        *user,
    )
    assert decided.returncode == 0, decided.stderr
    assert "false positive (antenna); 2 track(s) took it, 0 kept" in decided.stdout
    assert camera.group(group_id)["decision"] == "false_positive"

    bad = run(lookout, "sequence-groups", "decide", group_id, "--decision", "maybe", *user)
    assert bad.returncode == 2 and "decision" in bad.stderr
    mixed = run(
        lookout,
        "sequence-groups",
        "decide",
        group_id,
        "--decision",
        "smoke",
        "--fp-type",
        "antenna",
        *user,
    )
    assert mixed.returncode == 1 and "false_positive_types" in mixed.stderr
    outsider = run(lookout, "sequence-groups", "show", group_id, "--user", "nobody@example.org")
    assert outsider.returncode == 1
    helped = run(lookout, "sequence-groups", "--help")
    assert helped.returncode == 0 and "decide" in helped.stdout

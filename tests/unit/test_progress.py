"""A learner's progress file shared by two exercises running at once."""

import json

from stacklab.exercises.progress import Progress


def test_two_exercises_at_once_keep_each_others_progress(tmp_path):
    path = str(tmp_path / "progress.json")
    first, second = Progress(path), Progress(path)       # both read the empty file
    first.of("04-unreachable-after-maintenance")["checks"] = 2
    second.mark("05-no-address", "started", 1.0)
    first.save()
    second.save()                                        # does not write back its stale view of 04
    data = json.load(open(path))
    assert data["04-unreachable-after-maintenance"]["checks"] == 2 and data["05-no-address"]["started"] == 1.0
    third = Progress(path)
    third.forget("05-no-address")
    Progress(path).save()                                # touched nothing: changes nothing
    third.save()
    assert set(json.load(open(path))) == {"04-unreachable-after-maintenance"}

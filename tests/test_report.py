from gngan import report


def _result(seed, together, commit="a" * 40, dirty=False, segments=None, covered=3, registered=1990):
    man = {"seed": seed, "trained_together": together, "num_steps": 10, "device": "cpu", "torch_threads": 1,
           "wall_time_s": 12.0, "git": {"commit": commit, "dirty": dirty}, "torch_version": "2.x"}
    if segments is not None:
        man["git_segments"] = segments
    return {"manifest": man, "final": {"covered_modes": covered, "registered_points": registered}}


def test_manifest_groups_seeds_trained_together():
    results = {"m": [_result(0, [0, 1]), _result(1, [0, 1]), _result(2, [2], dirty=True)]}
    rows = report.manifest_rows(results, {"m": "M"})
    assert len(rows) == 2
    assert rows[0][1] == "0, 1" and "2 seed(s) together" in rows[0][4] and rows[0][5] == "aaaaaaaaaa"
    assert rows[1][5] == "aaaaaaaaaa+dirty"


def test_manifest_names_every_commit_of_a_resumed_run():
    seg = [{"commit": "b" * 40, "dirty": False, "from_step": 0}, {"commit": "c" * 40, "dirty": False, "from_step": 5}]
    (row,) = report.manifest_rows({"m": [_result(0, [0], segments=seg)]}, {})
    assert row[5] == "bbbbbbbbbb (from step 0), cccccccccc (from step 5)"


def test_toy1d_verdict_rule():
    def summary(gn, dist):
        res = {"g": [_result(i, [i], covered=c) for i, c in enumerate(gn)],
               "d": [_result(i, [i], covered=c) for i, c in enumerate(dist)]}
        return report.coverage_summary(res, {}, num_modes=3)

    assert report.toy1d_verdict(summary([3, 3, 2, 3], [2, 2, 2, 3]), "cpu").startswith("**Reproduced**")
    assert report.toy1d_verdict(summary([3, 2, 2, 2], [2, 2, 2, 2]), "cpu").startswith("**Partly reproduced**")
    assert report.toy1d_verdict(summary([3, 3, 2, 2], [3, 3, 3, 2]), "cpu").startswith("**Not reproduced**")
    assert "no verdict" in report.toy1d_verdict(summary([3], [2]), "smoke")

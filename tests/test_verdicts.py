"""Every number on the verdict page equals the stored result it comes from."""

import json

import numpy as np

from gngan import experiments, paper, verdicts


def _final(section, budget, method, seed):
    path = experiments.run_dir(section, budget, method, seed) / "result.json"
    return json.loads(path.read_text())["final"] if path.exists() else None


def test_1d_row_counts_equal_stored_results():
    row = verdicts.verdict_rows("cpu")[0]
    finals = {m: [_final("01_1d", "cpu", m, c.seed) for c in cfgs]
              for m, cfgs in experiments.toy1d_configs("cpu").items()}
    if any(f is None for fs in finals.values() for f in fs):
        assert row[4] == "not run here yet"
        return
    gn = sum(f["covered_modes"] == 3 for f in finals["gngan_gm"])
    dist = sum(f["covered_modes"] == 3 for f in finals["distgan"])
    assert row[2] == f"all 3 modes in {gn}/10 seeds (GN-GAN) vs {dist}/10 (Dist-GAN)"
    assert row[4] in ("reproduced", "partly reproduced", "not reproduced")


def test_2d_rows_equal_stored_results_or_say_not_run():
    rows = {r[0]: r for r in verdicts.verdict_rows("cpu")}
    for m, cfgs in experiments.grid2d_configs("cpu", methods=[k for k in paper.TABLE2]).items():
        row = rows[f"2D Table 2: {experiments.METHOD_LABELS[m]}"]
        assert row[1] == f"{paper.TABLE2[m]['registered_modes'][0]:.2f} ± {paper.TABLE2[m]['registered_modes'][1]:.2f} modes"
        finals = [_final("02_2d", "cpu", m, c.seed) for c in cfgs]
        if any(f is None for f in finals):
            assert row[2] == "—" and row[4].startswith("not run here yet")
        else:
            v = np.array([f["covered_modes"] for f in finals], dtype=float)
            assert row[2] == f"{v.mean():.2f} ± {v.std():.2f} modes"


def test_timing_row_equals_stored_benchmark():
    row = verdicts.verdict_rows("cpu")[-1]
    path = experiments.RESULTS_ROOT / "benchmarks" / "gm_timing.json"
    if not path.exists():
        assert row[4] == "not run here yet"
        return
    t = json.loads(path.read_text())
    assert f"ratio {t['ratio']:.2f}" in row[2] and f"{t['with_gm_ms']:.0f} vs {t['without_gm_ms']:.0f} ms" in row[2]


def test_every_claim_has_a_row():
    names = [r[0] for r in verdicts.verdict_rows("smoke")]
    assert len(names) == 1 + len(paper.TABLE2) + 1 + 3 + 1 + 1

import json

from gngan.__main__ import main
from gngan.config import RunConfig


def test_train_from_config_and_resume_refusal(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    RunConfig(num_steps=4, eval_every=2, checkpoint_every=2, eval_samples=50, batch_size=8).save(cfg)
    assert main(["train", "--config", str(cfg), "--run-dir", str(tmp_path / "run"), "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["step"] == 4
    RunConfig(num_steps=6, eval_every=2, checkpoint_every=2, eval_samples=50, batch_size=8).save(cfg)
    assert main(["train", "--config", str(cfg), "--run-dir", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gngan: error:") and "num_steps: stored 4 vs requested 6" in err
    assert len(err.splitlines()) == 1


def test_missing_config_is_one_line(tmp_path, capsys):
    assert main(["train", "--config", str(tmp_path / "nope.json"), "--run-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and len(err.strip().splitlines()) == 1


def test_cli_sections_are_the_books():
    from gngan import experiments
    from gngan.__main__ import SECTIONS

    assert SECTIONS == ("01_1d", "02_2d", *experiments.IMAGE_SECTIONS)

import pytest

from gngan.config import RunConfig


def test_roundtrip(tmp_path):
    c = RunConfig(method="distgan", seed=3, lambda_w=0.5)
    c.save(tmp_path / "c.json")
    assert RunConfig.load(tmp_path / "c.json") == c


def test_frozen():
    with pytest.raises(Exception):
        RunConfig().seed = 1


@pytest.mark.parametrize("change, message", [
    ({"method": "vae2"}, "method='vae2'"),
    ({"num_steps": 0}, "num_steps=0"),
    ({"lambda_p": -1.0}, "lambda_p=-1.0"),
    ({"ne_bandwidth": "perplexity"}, "ne_bandwidth"),
    ({"eval_every": 3, "checkpoint_every": 10}, "multiple"),
    ({"gm_backward": "triple"}, "gm_backward='triple'"),
    ({"vae_recon": "laplace"}, "vae_recon='laplace'"),
    ({"vae_sigma": 0.0}, "vae_sigma=0.0"),
    ({"precision": "fp16"}, "precision='fp16'"),
])
def test_bad_values_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**change)


def test_unknown_keys_are_refused():
    with pytest.raises(ValueError, match="unknown config keys \\['lamda_r'\\]"):
        RunConfig.from_dict({"lamda_r": 1.0})


def test_old_configs_load_with_defaults():
    """A stored config missing a newer field loads with the field's default."""
    d = RunConfig().to_dict()
    d.pop("ne_detach_sigma")
    assert RunConfig.from_dict(d) == RunConfig()


def test_runs_stored_before_gm_backward_existed_load_as_double_backward():
    """Every run stored before the option existed used the double backward: the default must say so."""
    d = RunConfig(gm_backward="linear").to_dict()
    d.pop("gm_backward")
    assert RunConfig.from_dict(d).gm_backward == "double"


def test_vae_sigma_default_is_the_loss_default():
    """Stored VAE runs (before the field existed) used losses.VAE_SIGMA: the default must equal it exactly."""
    from gngan import losses

    assert RunConfig().vae_sigma == losses.VAE_SIGMA and RunConfig().vae_recon == "gaussian"


def test_precision_defaults_to_fp32_and_is_part_of_the_run():
    assert RunConfig().precision == "fp32"
    assert RunConfig(precision="tf32") != RunConfig()
    assert RunConfig().diff(RunConfig(precision="bf16")) == {"precision": ("fp32", "bf16")}


def test_results_stored_before_precision_existed_load_as_fp32_and_equal_todays_configs():
    """The stored results that predate the field (their config dict lacks the key) were trained in float32: they
    must load as precision="fp32", and every stored cpu result (tuning sweep included) must still equal the config
    its section builds today at its budget."""
    import json

    from gngan import experiments

    stored = [json.loads(p.read_text())["manifest"]["config"]
              for p in experiments.RESULTS_ROOT.glob("*/cpu/*/seed*/result.json")]
    old = [d for d in stored if "precision" not in d]
    assert len(old) > 100, "the stored cpu results (they lack the key) are expected under results/"
    assert {RunConfig.from_dict(d).precision for d in old} == {"fp32"}
    sections = {"01_1d": experiments.toy1d_configs("cpu"),
                "02_2d": {**experiments.grid2d_configs("cpu", methods=[*experiments.GRID2D_METHODS,
                                                                        *experiments.GRID2D_CHECKS]),
                          **experiments.sweep_configs("cpu"), **experiments.tuned_configs("cpu")[0]}}
    sections.update({s: {**experiments.image_configs(s, "cpu"), **experiments.previous_reading_configs(s, "cpu")}
                     for s in experiments.IMAGE_SECTIONS})
    found = 0
    for section, configs in sections.items():
        # stored_results raises ConfigMismatchError where a stored config differs from today's
        found += sum(len(r) for r in experiments.stored_results(section, configs, "cpu").values())
    assert found == len(stored)


@pytest.mark.parametrize("change, message", [
    ({"method": "distgan", "distgan_recon": "pixel"}, "distgan_recon='pixel'"),
    ({"method": "distgan", "ae_trains": "generator"}, "ae_trains='generator'"),
    ({"method": "gngan", "ae_trains": "encoder"}, "Dist-GAN's auto-encoder step"),
    ({"method": "gngan", "distgan_recon": "disc"}, "Dist-GAN's auto-encoder step"),
    ({"method": "distgan", "distgan_features": "data", "distgan_recon": "disc"}, "distgan_features='disc'"),
    ({"method": "distgan", "distgan_features": "data", "distgan_md_x": "recon"}, "distgan_features='disc'"),
    ({"method": "wgangp", "alpha_schedule": "distgan_code"}, "has none"),
    ({"method": "gan", "recon_label": "fake"}, "recon_label='fake' labels the reconstructions"),
    ({"method": "distgan", "recon_label": "none"}, "recon_label='none' is not one of"),
    ({"alpha_schedule": "linear"}, "alpha_schedule='linear'"),
    ({"init": "normal02"}, "image networks only"),
    ({"init": "he", "arch": "cnn", "data": "cifar10"}, "init='he'"),
])
def test_distgan_and_init_options_are_validated(change, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**change)


def test_runs_stored_before_the_distgan_image_options_load_as_the_previous_reading():
    """Every run stored before these fields existed used GN-GAN's AE step for Dist-GAN (pixel reconstruction, f(x),
    net_E and net_G updated), a constant alpha and the reference (Glorot) init: the defaults must say so."""
    d = RunConfig(method="distgan", distgan_recon="disc", distgan_md_x="recon", ae_trains="encoder",
                  alpha_schedule="distgan_code").to_dict()
    for k in ("distgan_recon", "distgan_md_x", "ae_trains", "alpha_schedule", "init"):
        d.pop(k)
    assert RunConfig.from_dict(d) == RunConfig(method="distgan")
    c = RunConfig.from_dict(d)
    assert (c.distgan_recon, c.distgan_md_x, c.ae_trains, c.alpha_schedule, c.init) == (
        "data", "real", "encoder_generator", "constant", "reference")


def test_every_method_names_the_net_D_loss_it_trains_with():
    from gngan.config import DIS_LOSSES, METHOD_DIS_LOSSES, METHODS
    assert set(METHOD_DIS_LOSSES) == set(METHODS)
    assert {loss for own in METHOD_DIS_LOSSES.values() for loss in own} == set(DIS_LOSSES)
    expected = {"gngan": "log", "distgan": "log", "gan": "log", "bourgan": "log", "gangp": "log", "ali": "log",
                "vaegan": "log", "sngan": "hinge", "wgangp": "wasserstein", "mmdrep": "mmd_rep", "vae": "none"}
    prior = {"bourgan": "bourgain", "vae": "normal", "vaegan": "normal"}
    for method, loss in expected.items():
        assert RunConfig(method=method, prior=prior.get(method, "normal")).dis_loss == loss, method
    assert RunConfig(dis_loss="hinge").dis_loss == "hinge"


@pytest.mark.parametrize("change, message", [
    ({"method": "wgangp", "dis_loss": "log"}, "method='wgangp' with dis_loss='log': its net_D trains with 'wasserstein'"),
    ({"method": "gngan", "dis_loss": "wasserstein"}, "trains with 'log' or 'hinge'"),
    ({"method": "gan", "dis_loss": "hinge"}, "trains with 'log'"),
    ({"method": "vae", "dis_loss": "log"}, "trains with 'none'"),
    ({"dis_loss": "bce"}, "dis_loss='bce' is not one of"),
])
def test_a_net_D_loss_the_method_does_not_train_with_is_refused(change, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**change)


def test_replace_with_a_new_method_keeps_dis_loss_only_where_that_method_trains_with_it():
    hinge = RunConfig(dis_loss="hinge")
    assert hinge.replace(method="distgan").dis_loss == "hinge"
    assert hinge.replace(method="wgangp").dis_loss == "wasserstein"
    assert RunConfig().replace(method="sngan").dis_loss == "hinge"
    assert RunConfig(method="wgangp").replace(method="gngan").dis_loss == "log"
    assert RunConfig(method="wgangp").replace(lambda_p=1.0).dis_loss == "wasserstein"
    with pytest.raises(ValueError, match="its net_D trains with 'wasserstein'"):
        RunConfig().replace(method="wgangp", dis_loss="hinge")


def _correct_dis_loss_tool():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent.parent / "tools" / "correct-dis-loss.py"
    spec = importlib.util.spec_from_file_location("correct_dis_loss", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_correct_dis_loss_rewrites_the_legacy_default_only(tmp_path):
    import json

    tool = _correct_dis_loss_tool()
    legacy = {**RunConfig(method="wgangp", data="grid2d").to_dict(), "dis_loss": "log"}
    run = tmp_path / "results" / "wgangp" / "seed0"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(legacy, indent=2))
    (run / "result.json").write_text(json.dumps({"manifest": {"config": legacy, "seed": 0}, "history": []}))
    gan = tmp_path / "results" / "gan" / "seed0"
    gan.mkdir(parents=True)
    (gan / "config.json").write_text(json.dumps(RunConfig(method="gan", data="grid2d").to_dict(), indent=2))
    tool.main(str(tmp_path / "results"))
    assert RunConfig.load(run / "config.json") == RunConfig(method="wgangp", data="grid2d")
    stored = json.loads((run / "result.json").read_text())
    assert stored == {"manifest": {"config": {**legacy, "dis_loss": "wasserstein"}, "seed": 0}, "history": []}
    before = {p: p.read_text() for p in tmp_path.rglob("*.json")}
    tool.main(str(tmp_path / "results"))  # idempotent
    assert {p: p.read_text() for p in tmp_path.rglob("*.json")} == before
    (run / "config.json").write_text(json.dumps({**legacy, "dis_loss": "hinge"}))
    with pytest.raises(SystemExit, match="correct it by hand"):
        tool.main(str(tmp_path / "results"))

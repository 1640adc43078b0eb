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

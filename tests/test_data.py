import torch

from gngan.data import gauss1d, sample_prior


def test_gauss1d_samples_match_the_mixture():
    ds = gauss1d()
    x = ds.sample(30000, torch.Generator().manual_seed(0))[:, 0]
    k = (x[:, None] - ds.centers[None, :, 0]).abs().argmin(1)
    frac = torch.bincount(k, minlength=3).float() / len(x)
    torch.testing.assert_close(frac, torch.full((3,), 1 / 3), atol=0.01, rtol=0)
    for j in range(3):
        torch.testing.assert_close(x[k == j].std(), torch.tensor(ds.std), atol=0.01, rtol=0)


def test_density_integrates_to_one():
    grid = torch.linspace(-10, 10, 4001)
    dens = gauss1d().density(grid)
    torch.testing.assert_close(torch.trapezoid(dens, grid), torch.tensor(1.0), atol=1e-4, rtol=0)


def test_priors_and_reproducibility():
    g = lambda: torch.Generator().manual_seed(5)
    u = sample_prior("uniform", 1000, 2, g())
    assert u.min() >= -1 and u.max() <= 1 and u.shape == (1000, 2)
    torch.testing.assert_close(sample_prior("normal", 4, 3, g()), sample_prior("normal", 4, 3, g()))


def test_cifar10_train_loads_the_source_asked_for_and_records_it(monkeypatch):
    import pytest

    from gngan import data, images

    asked = []

    def fake(split, source, download):
        asked.append((split, source, download))
        return torch.zeros(4, 3, 32, 32, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64)

    monkeypatch.setattr(images, "cifar10", fake)
    monkeypatch.setenv(data.CIFAR10_SOURCE_ENV, "torchvision")
    assert data.cifar10_train().source == "torchvision"  # the exact data, downloaded when absent
    monkeypatch.setenv(data.CIFAR10_SOURCE_ENV, "jpeg")
    assert data.make_dataset("cifar10").source == "jpeg"
    assert data.cifar10_train("torchvision").source == "torchvision"  # an argument wins over the variable
    assert asked == [("train", "torchvision", True), ("train", "jpeg", False), ("train", "torchvision", True)]
    monkeypatch.setenv(data.CIFAR10_SOURCE_ENV, "imagenet")
    with pytest.raises(ValueError, match="unknown CIFAR-10 source 'imagenet'"):
        data.cifar10_train()

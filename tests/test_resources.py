"""Finding the bundled data: override, checkout, or a non-editable install's copy."""

from cnnlab import resources


def test_env_override_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLAB_RESOURCES", str(tmp_path))
    assert resources.resource_path("models", "digits.npz") == tmp_path / "models" / "digits.npz"


def test_checkout_then_installed_copy(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNLAB_RESOURCES", raising=False)
    checkout, installed = tmp_path / "checkout", tmp_path / "share"
    installed.mkdir()
    monkeypatch.setattr(resources, "_REPO_RESOURCES", checkout)
    monkeypatch.setattr(resources, "_INSTALLED_RESOURCES", installed)
    assert resources.resources_dir() == installed  # no checkout beside the package
    checkout.mkdir()
    assert resources.resources_dir() == checkout


def test_the_checkout_ships_the_documented_files():
    for parts in (("mnist_sample.npz",), ("cifar10_sample.npz",), ("models", "digits.npz"),
                  ("PROVENANCE.md",)):
        assert resources.resource_path(*parts).is_file(), parts

"""The edge-gateway image, built once per session and shared by every image test that needs it."""

from __future__ import annotations

import pytest
from image_builds import Built, build_image, signing_key


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    tmp = tmp_path_factory.mktemp("image")
    return build_image(tmp / "out", signing_key(tmp / "keys"))


@pytest.fixture(scope="session")
def built_relay(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The dmz-relay image, signed with the same key (the deployment's one signer)."""
    return build_image(tmp_path_factory.mktemp("image-relay") / "out", built.key, role="dmz-relay")


@pytest.fixture(scope="session")
def rebuilt(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A second build of the same image with the same key, from scratch but for the .deb cache."""
    return build_image(tmp_path_factory.mktemp("image-again") / "out", built.key)

"""Types every renderer shares: the rendered file, the registry entry and the named errors.

Fail closed (STYLE.md, "Generators are pure and fail closed", after Aerleon's
``UnsupportedFilterError``): a renderer that cannot express what the plan asks raises
:class:`UnsupportedFeature` naming the platform and the feature; nothing is silently left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from segmenting.errors import EXIT_INVALID, CloisonError
from segmenting.plan import Plan
from segmenting.render.secrets import SecretsProvider


class RenderError(CloisonError):
    """The plan cannot be rendered for a device (unknown device, missing data in the plan)."""

    exit_code = EXIT_INVALID


class UnsupportedFeature(RenderError):
    """A platform cannot express a feature the plan requires: refuse instead of weakening."""

    def __init__(self, platform: str, feature: str, detail: str = "") -> None:
        self.platform = platform
        self.feature = feature
        text = f"{platform} cannot express {feature!r}"
        if detail:
            text += f": {detail}"
        super().__init__(
            text + "\n    fix: move the device to a platform that supports it, or change the plan so it "
            "does not need it; cloison never renders a weaker configuration in its place"
        )


@dataclass(frozen=True)
class RenderedFile:
    """One file of one device: ``path`` is relative to the device's output folder."""

    device: str
    path: str
    text: str
    mode: int = 0o644


RenderFn = Callable[[Plan, str, SecretsProvider], list[RenderedFile]]
DevicesFn = Callable[[Plan], list[str]]


@dataclass(frozen=True)
class Renderer:
    """One registry row: what it renders, for which devices, into which files."""

    name: str
    target: str  # what runs the text: "nftables", "cisco_ios", "freeradius 3.2", ...
    devices: DevicesFn
    render: RenderFn
    outputs: str  # the output path pattern, for the docs and the CLI help
    needs_secrets: bool = False

"""The lab fixtures come from the plugin module, so other engineers' tests can reuse them."""

from segmenting.lab.pytest_plugin import lab, lab_network  # noqa: F401

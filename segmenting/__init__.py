"""cloison's segmentation core: the deployment model, the plan derived from it, and renderers.

One inventory folder is loaded and validated once (:mod:`segmenting.model`,
:mod:`segmenting.validate`); :mod:`segmenting.plan` derives zones, VLANs, addresses and the
flow allowlist from it, purely. Everything else (renderers, Ansible, the lab, the IDS and the
conformance checks) reads the plan, never the YAML.
"""

__version__ = "0.1.0"

"""The lab fixtures (``lab``, ``lab_network``) come from tests/conftest.py, shared by every folder."""

"""Hardened appliance images built from the same roles as the lab, with SBOM and signature."""

"""cloison's IDS: a Scapy-based sensor that flags camera-network flows the plan does not allow."""

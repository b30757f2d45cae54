"""Conformance: the control catalog, the checks' pytest plugin, waivers and the RSSI's report.

The catalog (``controls.yml``) is the one list of control IDs (ANSSI BP-028, PA-022, hygiene
guide, CNIL security guide, CSI video-protection articles, NIS2 Art. 21(2)); role task names,
conformance checks, the JUnit report and the HTML report all use the same keys (DESIGN.md,
"Control IDs").
"""

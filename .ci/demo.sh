#!/usr/bin/env bash
# make demo: the INGEAGGLO reference deployment, end to end, on this machine.
# 1) validate + plan + render + diagram (pure, seconds)   2) the lab of real components
# 3) the roles converge it   4) the RSSI's audit report.
set -euo pipefail
cd "$(dirname "$0")/.."
DEPLOYMENT=${1:-inventory/ingeagglo}
OUT=${2:-out}
mkdir -p "$OUT"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Validate the inventory and its address lock"
cloison validate "$DEPLOYMENT"
cloison lock "$DEPLOYMENT" --check

step "2. The plan: sites, CSU, viewing rights, State convention (flows: cloison plan --section flows)"
cloison plan "$DEPLOYMENT" --section sites --section csu --section viewing --section state
cloison plan "$DEPLOYMENT" --json > "$OUT/plan.json"

step "3. Every device's configuration, rendered from the plan"
cloison render "$DEPLOYMENT" -o "$OUT/render"

step "4. The diagram"
cloison graph "$DEPLOYMENT" -o "$OUT/plan.svg"

step "5. The lab: real nodes, switches, cameras (cloison lab down removes it)"
cloison lab up "$DEPLOYMENT"

step "6. The roles converge the lab (twice: the second run must change nothing)"
cloison lab converge "$DEPLOYMENT" --twice

step "7. What is running"
cloison lab status

step "8. The RSSI's conformance report"
# The lab waivers name what containers cannot show (kernel-wide parameters, auditd); a real
# deployment keeps its own waivers.yml, signed by its RSSI, in its inventory folder.
cloison audit --deployment "$DEPLOYMENT" -o "$OUT/audit" --waivers tests/conformance/waivers-lab.yml \
  || echo "(the audit found non-conformities: they are listed in the report)"

printf '\nOutputs:\n  plan        %s\n  configs     %s\n  diagram     %s\n  audit       %s\n' \
  "$OUT/plan.json" "$OUT/render/" "$OUT/plan.svg" "$OUT/audit/audit.html"
printf 'The lab is still running: `cloison lab status`, `cloison lab down` when done.\n'

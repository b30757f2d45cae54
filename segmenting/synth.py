"""Deterministic deployments: the INGEAGGLO reference and synthetic ones for scale tests.

The reference follows the seed's Annexe A: 20 communes (one of 25,000 inhabitants, four above
10,000, fifteen below 5,000); 12 on fibre (FTTH), 3 on VDSL after "montée en débit" (PRM
cabinets), 5 on 4G/5G; the CSU in the central commune. Names are invented. Addresses are
private ranges (RFC 1918) inside, documentation ranges (RFC 5737) outside.

``generate(communes=N, cameras=M)`` scales the same shape up for benchmarks (bench/).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

REFERENCE_COMMUNES: tuple[tuple[str, str, int], ...] = (
    ("ingeville", "Ingeville", 25_400),
    ("saint-aubin-sur-ingre", "Saint-Aubin-sur-Ingre", 14_200),
    ("valmorin", "Valmorin", 12_800),
    ("beaulieu-les-forges", "Beaulieu-les-Forges", 11_300),
    ("montclar-d-ingre", "Montclar-d'Ingre", 10_600),
    ("brevannes-le-haut", "Brévannes-le-Haut", 4_700),
    ("courtillac", "Courtillac", 4_100),
    ("sainte-ombre", "Sainte-Ombre", 3_800),
    ("merival", "Mérival", 3_300),
    ("les-aubiers", "Les Aubiers", 2_900),
    ("tavernac", "Tavernac", 2_600),
    ("puy-sorel", "Puy-Sorel", 2_200),
    ("vaudrimont", "Vaudrimont", 1_900),
    ("ormesson-la-vallee", "Ormesson-la-Vallée", 1_700),
    ("chanteloup-d-ingre", "Chanteloup-d'Ingre", 1_500),
    ("lussac-les-pres", "Lussac-les-Prés", 1_300),
    ("saint-fiacre-d-ingre", "Saint-Fiacre-d'Ingre", 1_100),
    ("nevillers", "Névillers", 900),
    ("castelroux", "Castelroux", 700),
    ("montaigut-le-blanc", "Montaigut-le-Blanc", 500),
)

# (model, auth, OUI): current cameras do 802.1X EAP-TLS; the two legacy ones only MAB.
CAMERA_MODELS: tuple[tuple[str, str, str], ...] = (
    ("Axis P1465-LE", "eap-tls", "ac:cc:8e"),
    ("Axis Q6135-LE", "eap-tls", "b8:a4:4f"),
    ("Hanwha XNO-6080R", "eap-tls", "00:09:18"),
    ("Bosch DINION 5100i", "eap-tls", "00:07:5f"),
    ("Dahua IPC-HFW2431S", "mab", "3c:ef:8c"),
    ("Hikvision DS-2CD2043G2", "mab", "44:19:b6"),
)

PURPOSE_SETS: tuple[tuple[str, ...], ...] = (
    ("crime_prevention",),
    ("crime_prevention", "public_buildings"),
    ("traffic_regulation", "traffic_offences"),
    ("public_buildings",),
    ("illegal_dumping",),
    ("crime_prevention", "terrorism_prevention"),
    ("natural_risks", "rescue_fire"),
)

SITE_NAMES = ("centre", "gare", "zone-activites", "ecoles", "stade")
SITE_CAMERA_CAPACITY = 46  # a 48-port switch less its uplink and IDS mirror ports


def _transport(index: int, communes: int) -> str:
    """12/20 fibre, 3/20 VDSL, 5/20 cellular — the seed's proportions, at any scale."""
    slot = index % 20
    if slot < 12:
        return "fiber"
    return "vdsl" if slot < 15 else "cellular"


def _platform(index: int, population: int) -> str:
    if population >= 20_000:
        return "cisco_ios"
    if population >= 10_000:
        return "aruba_aoscx"
    return "hp_procurve" if index % 2 else "cisco_ios"


_SWITCH_MODELS = {
    "cisco_ios": "Catalyst 9200CX-12P-2X2G",
    "aruba_aoscx": "Aruba CX 6100 24G",
    "hp_procurve": "Aruba 2930F-24G-PoE+",
    "ovs": "Open vSwitch (lab)",
}


def _insee(index: int) -> str:
    """A five-character INSEE-like code, unique for up to 99,000 communes (99001, 99002, …)."""
    number = index + 1
    return f"{99 - number // 1000:02d}{number % 1000:03d}"


def generate(communes: int = 20, cameras: int = 250, seed: int = 2023) -> dict[str, dict[str, Any]]:
    """One deployment as {file name: YAML data}. ``communes=20`` gives the reference."""
    rng = random.Random(seed)
    if communes == len(REFERENCE_COMMUNES):
        commune_rows = list(REFERENCE_COMMUNES)
        dep_id, dep_name = "ingeagglo", "Communauté d'agglomération INGEAGGLO"
    else:
        commune_rows = [
            (f"commune-{i:04d}", f"Commune {i:04d}", 25_000 if i == 0 else (12_000 if i % 5 == 1 else 2_000))
            for i in range(communes)
        ]
        dep_id, dep_name = f"synth-{communes}", f"Synthetic agglomeration of {communes} communes"

    # Sites: the central commune gets 3, communes above 10,000 get 2, the others 1 — or more
    # when the commune's share of cameras would not fit on 48-port switches (large synthetic
    # deployments); the reference's shares fit, so its sites do not change.
    total_pop = sum(p for _, _, p in commune_rows)
    sites: list[dict[str, Any]] = []
    commune_sites: dict[str, list[str]] = {}
    for index, (cid, _name, pop) in enumerate(commune_rows):
        base = 3 if pop >= 20_000 else (2 if pop >= 10_000 else 1)
        count = max(base, -(-round(cameras * pop / total_pop) // SITE_CAMERA_CAPACITY))
        transport = _transport(index, communes)
        for n in range(count):
            site_id = f"s-{cid[:30]}-{n + 1}" if communes == 20 else f"s-{index:04d}-{n + 1}"
            platform = _platform(index, pop)
            label = SITE_NAMES[n % len(SITE_NAMES)] + (f" {n // len(SITE_NAMES) + 1}" if n >= len(SITE_NAMES) else "")
            site: dict[str, Any] = {
                "id": site_id,
                "commune": cid,
                "name": f"{_name} — {label}",
                "transport": transport,
                "switch": {
                    "platform": platform,
                    "model": _SWITCH_MODELS[platform],
                    "ports": 24 if pop < 20_000 else 48,
                },
            }
            if transport != "fiber":
                site["tunnel"] = {"type": "ikev2"}
            if transport == "vdsl":
                octet = 11 + len([s for s in sites if s["transport"] == "vdsl"])
                site["wan_address"] = f"203.0.113.{octet}" if communes == 20 else None
                if site["wan_address"] is None:
                    del site["wan_address"]
            sites.append(site)
            commune_sites.setdefault(cid, []).append(site_id)

    # Cameras spread by population, at least 2 per site (one of them a legacy MAB camera).
    cams: list[dict[str, Any]] = []
    remaining = cameras
    per_site: dict[str, int] = {}
    for cid, _name, pop in commune_rows:
        share = max(2 * len(commune_sites[cid]), round(cameras * pop / total_pop))
        for k, site_id in enumerate(commune_sites[cid]):
            per_site[site_id] = share // len(commune_sites[cid]) + (1 if k < share % len(commune_sites[cid]) else 0)
    # Adjust to the exact total, largest sites first (deterministic).
    order = sorted(per_site, key=lambda s: (-per_site[s], s))
    diff = cameras - sum(per_site.values())
    k = 0
    while diff != 0 and order:
        site_id = order[k % len(order)]
        if diff > 0:
            per_site[site_id] += 1
            diff -= 1
        elif per_site[site_id] > 2:
            per_site[site_id] -= 1
            diff += 1
        k += 1
        if k > 10 * len(order) * max(1, abs(diff)):
            break
    serial = 0
    site_by_id = {s["id"]: s for s in sites}
    for site_id, count in per_site.items():  # insertion order = site order
        site = site_by_id[site_id]
        max_ports = site["switch"]["ports"] - 2  # last port uplink, the one before it the IDS mirror

        if count > max_ports:
            site["switch"]["ports"] = 48 if count <= 46 else 96
            max_ports = site["switch"]["ports"] - 2
        for n in range(count):
            serial += 1
            remaining -= 1
            legacy = n == count - 1  # the last camera of every site is a legacy MAB one
            model, auth, oui = CAMERA_MODELS[4 + serial % 2] if legacy else CAMERA_MODELS[serial % 4]
            cam_id = f"cam-{serial:05d}"
            cam: dict[str, Any] = {
                "id": cam_id,
                "site": site_id,
                "commune": site["commune"],
                "mac": f"{oui}:{(serial >> 16) & 0xFF:02x}:{(serial >> 8) & 0xFF:02x}:{serial & 0xFF:02x}",
                "model": model,
                "auth": auth,
                "port": n + 1,
                "purposes": list(PURPOSE_SETS[rng.randrange(len(PURPOSE_SETS))]),
            }
            if auth == "eap-tls":
                cam["identity"] = f"{cam_id}.{dep_id}.cameras"
            cams.append(cam)
    del remaining

    big = [c for c, _, p in commune_rows if p >= 10_000]
    shared = big[:5]
    central = commune_rows[0][0]
    agents = []
    for i in range(8):
        scope = [central] if i < 2 else ([big[(i % max(1, len(big)))]] if i < 5 else [c for c, _, _ in commune_rows])
        agents.append(
            {
                "id": f"agt-{i + 1:03d}",
                "name": f"Agent {i + 1:03d}",
                "employer": "Police municipale d'Ingeville" if i < 2 else dep_name,
                "communes": scope[:50],
                "habilitation": {"order": f"AP-99-2026-{100 + i}", "expires": f"{2028 + i % 2}-0{1 + i % 9}-15"},
            }
        )
    csu_hosts: list[dict[str, Any]] = [
        {"id": "csu-fw", "role": "firewall"},
        {"id": "csu-rec-01", "role": "recorder"},
        {"id": "csu-rec-02", "role": "recorder"},
        {"id": "csu-radius", "role": "radius"},
        {"id": "csu-pki", "role": "pki"},
        {"id": "csu-ntp", "role": "ntp"},
        {"id": "csu-dns", "role": "dns"},
        {"id": "csu-log", "role": "collector"},
        {"id": "csu-ids", "role": "ids_collector"},
        {"id": "csu-bastion", "role": "bastion"},
        {"id": "csu-vpn", "role": "vpn"},
        {"id": "csu-relay", "role": "relay"},
        *({"id": f"op-{i:02d}", "role": "operator", "agent": f"agt-{i:03d}"} for i in range(1, 5)),
    ]
    half = len(sites) // 2
    maintainers = [
        {
            "id": "mnt-vso",
            "name": "Équipe d'astreinte VSO",
            "company": "Vidéo Services Ouest",
            "sites": [s["id"] for s in sites[:half]][:200],
            "max_window_hours": 8,
        },
        {
            "id": "mnt-tri",
            "name": "Technicien réseau TRI",
            "company": "Télécom Réseaux de l'Ingre",
            "sites": [s["id"] for s in sites[half:]][:200],
            "max_window_hours": 4,
        },
    ]
    sites_pool = "10.64.0.0/12" if len(sites) <= 1024 else "10.64.0.0/10"
    return {
        "deployment.yml": {
            "deployment": {
                "id": dep_id,
                "name": dep_name,
                "department": "99",
                "prefectoral_authorisation": "AP-99-2024-VP-0042",
            },
            "addressing": {
                "sites_pool": sites_pool,
                "site_prefix": 22,
                "csu_pool": "10.0.0.0/20",
                "transport_pool": "10.255.0.0/16",
                "vlans": {"cameras": 110, "quarantine": 999, "site_mgmt": 10, "unused": 4000},
            },
            "retention_days": 21,
            "augmented_analysis": {"enabled": False, "events": []},
            "csu": {
                "commune": central,
                "external": {"vpn_endpoint": "198.51.100.10", "relay_endpoint": "198.51.100.20"},
                "hosts": csu_hosts,
            },
        },
        "communes.yml": {
            "communes": [
                {"id": cid, "name": name, "insee": _insee(i), "population": pop}
                for i, (cid, name, pop) in enumerate(commune_rows)
            ]
        },
        "sites.yml": {"sites": sites},
        "cameras.yml": {"cameras": cams},
        "state.yml": {
            "state_convention": {
                "reference": "Convention Etat-INGEAGGLO vidéoprotection n° 2024-17",
                "signed": "2024-06-14",
                "endpoints": [
                    {"id": "pn-cic", "service": "police-nationale", "address": "192.0.2.0/28"},
                    {"id": "gn-corg", "service": "gendarmerie-nationale", "address": "192.0.2.16/28"},
                ],
                "shared_communes": shared,
                "state_retention_days": 30,
                "relay_port": 8554,
            }
        },
        "agents.yml": {"agents": agents},
        "maintainers.yml": {"maintainers": maintainers},
    }


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_presenter)


def write(folder: Path, files: dict[str, dict[str, Any]], header: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
        (folder / name).write_text(header + text, encoding="utf-8")

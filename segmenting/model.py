"""The deployment model: what one inventory folder says, typed.

A deployment folder holds one YAML file per concern (see :data:`FILES`); each file's top-level
keys become one section of :class:`Inventory`. This module only declares *structure* (types,
ranges, formats, closed vocabularies); meaning that spans several records (duplicates, unknown
references, legal rules, guardrails) is checked in :mod:`segmenting.validate`.

Legal vocabulary comes from the Code de la sécurité intérieure: camera purposes are the ones
CSI L251-2 lists; retention is capped by CSI L252-5 (one month, enforced as 30 days); State
access follows CSI L252-3.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

# One file per concern; the value is the set of top-level keys the file may hold. Keeping the
# split explicit lets every error name the file the user has to open.
FILES: dict[str, tuple[str, ...]] = {
    "deployment.yml": ("deployment", "addressing", "retention_days", "augmented_analysis", "csu"),
    "communes.yml": ("communes",),
    "sites.yml": ("sites",),
    "cameras.yml": ("cameras",),
    "state.yml": ("state_convention",),
    "agents.yml": ("agents",),
    "maintainers.yml": ("maintainers",),
    "flows.yml": ("flows",),
}
OPTIONAL_FILES = frozenset({"flows.yml", "maintainers.yml"})

MAX_RETENTION_DAYS = 30  # CSI L252-5: "un mois", enforced as 30 days to stay on the safe side

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_MAC_RE = re.compile(r"^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$")


def _check_id(value: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid id: use 1-40 lowercase letters, digits and '-', starting with a letter or digit"
        )
    return value


def _check_mac(value: str) -> str:
    low = value.strip().lower()
    if not _MAC_RE.match(low):
        raise ValueError(f"{value!r} is not a MAC address: write six hex pairs, e.g. 02:1c:a0:00:00:01")
    return low.replace("-", ":")


# The JSON Schema (``cloison schema``) carries the same formats, so editors flag them as you type.
Id = Annotated[
    str,
    AfterValidator(_check_id),
    WithJsonSchema({"type": "string", "pattern": _ID_RE.pattern, "description": "lowercase id: a-z, 0-9, '-'"}),
]
Mac = Annotated[
    str,
    AfterValidator(_check_mac),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}\s*$",
            "description": "MAC address, six hex pairs: 02:1c:a0:00:00:01",
        }
    ),
]
VlanId = Annotated[int, Field(ge=1, le=4094)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Transport(StrEnum):
    FIBER = "fiber"  # private dark fibre / operator FTTH with a private L2 service
    VDSL = "vdsl"  # copper after "montée en débit": shared, untrusted
    CELLULAR = "cellular"  # 4G/5G: public operator network, untrusted, behind CGNAT


class Platform(StrEnum):
    CISCO_IOS = "cisco_ios"
    ARUBA_AOSCX = "aruba_aoscx"
    HP_PROCURVE = "hp_procurve"
    OVS = "ovs"


class AuthMethod(StrEnum):
    EAP_TLS = "eap-tls"
    MAB = "mab"  # legacy cameras without a supplicant: MAC Authentication Bypass


class Purpose(StrEnum):
    """The purposes CSI L251-2 allows for filming the public road."""

    PUBLIC_BUILDINGS = "public_buildings"
    NATIONAL_DEFENCE = "national_defence"
    TRAFFIC_REGULATION = "traffic_regulation"
    TRAFFIC_OFFENCES = "traffic_offences"
    CRIME_PREVENTION = "crime_prevention"
    TERRORISM_PREVENTION = "terrorism_prevention"
    NATURAL_RISKS = "natural_risks"
    RESCUE_FIRE = "rescue_fire"
    AMUSEMENT_PARKS = "amusement_parks"
    VEHICLE_INSURANCE = "vehicle_insurance"
    ILLEGAL_DUMPING = "illegal_dumping"


class AiEvent(StrEnum):
    """Event types the 2023 law (JO 2024 experiment, décret 2023-828) lets an algorithm flag.

    Biometric identification is not among them and can never be enabled.
    """

    ABANDONED_OBJECT = "abandoned_object"
    CROWD_MOVEMENT = "crowd_movement"
    CROWD_DENSITY = "crowd_density"
    FORBIDDEN_AREA = "forbidden_area"
    PERSON_ON_GROUND = "person_on_ground"
    WEAPON = "weapon"
    FIRE_START = "fire_start"
    WRONG_WAY = "wrong_way"


class Zone(StrEnum):
    CAMERAS = "cameras"
    QUARANTINE = "quarantine"
    SITE_MGMT = "site_mgmt"
    TRANSPORT = "transport"
    RECORDING = "recording"
    OPERATORS = "operators"
    SERVICES = "services"
    ADMIN = "admin"
    MAINTENANCE_VPN = "maintenance_vpn"
    DMZ_STATE = "dmz_state"
    STATE = "state"
    INTERNET = "internet"


SITE_ZONES = (Zone.CAMERAS, Zone.QUARANTINE, Zone.SITE_MGMT, Zone.TRANSPORT)
CSU_ZONES = (
    Zone.RECORDING,
    Zone.OPERATORS,
    Zone.SERVICES,
    Zone.ADMIN,
    Zone.MAINTENANCE_VPN,
    Zone.DMZ_STATE,
    Zone.TRANSPORT,
)
EXTERNAL_ZONES = (Zone.STATE, Zone.INTERNET)


class CsuRole(StrEnum):
    """What a CSU host does; the role decides its zone and its Ansible groups."""

    RECORDER = "recorder"
    RADIUS = "radius"
    PKI = "pki"
    NTP = "ntp"
    DNS = "dns"
    COLLECTOR = "collector"
    IDS_COLLECTOR = "ids_collector"
    IDS_SENSOR = "ids_sensor"
    BASTION = "bastion"
    VPN = "vpn"
    RELAY = "relay"
    FIREWALL = "firewall"
    OPERATOR = "operator"


# --- deployment.yml -------------------------------------------------------------------------


class DeploymentInfo(Strict):
    id: Id
    name: str = Field(min_length=1)
    department: str = Field(min_length=2, max_length=3, description="département code")
    prefectoral_authorisation: str = Field(min_length=1, description="reference of the prefect's order (CSI L252-1)")


class VlanDefaults(Strict):
    cameras: VlanId = 110
    quarantine: VlanId = 999
    site_mgmt: VlanId = 10
    unused: VlanId = 4000


class Addressing(Strict):
    sites_pool: IPv4Network = Field(description="every site's block comes from here")
    site_prefix: Annotated[int, Field(ge=20, le=24)] = 22
    csu_pool: IPv4Network
    transport_pool: IPv4Network = Field(description="/30 point-to-point links of fibre sites")
    vlans: VlanDefaults = VlanDefaults()


class AugmentedAnalysis(Strict):
    enabled: bool = False
    events: tuple[AiEvent, ...] = ()
    biometric_identification: Literal[False] = Field(
        default=False, description="never allowed; present so that a `true` fails loudly"
    )


class CsuHost(Strict):
    id: Id
    role: CsuRole
    mac: Mac | None = None
    agent: Id | None = Field(default=None, description="operator workstations: the viewing agent")


class CsuExternal(Strict):
    vpn_endpoint: IPv4Address = Field(description="public address of the VPN concentrator")
    relay_endpoint: IPv4Address = Field(description="public address of the State relay")


class Csu(Strict):
    commune: Id
    external: CsuExternal
    hosts: tuple[CsuHost, ...] = Field(min_length=1)


# --- communes.yml, sites.yml, cameras.yml -----------------------------------------------------


class Commune(Strict):
    id: Id
    name: str = Field(min_length=1)
    insee: Annotated[str, Field(pattern=r"^[0-9][0-9AB][0-9]{3}$")]
    population: Annotated[int, Field(ge=0)]


class Tunnel(Strict):
    type: Literal["ikev2"] = "ikev2"


class Switch(Strict):
    platform: Platform
    model: str = Field(min_length=1)
    ports: Annotated[int, Field(ge=4, le=96)] = 24
    mac: Mac | None = None


class SiteVlans(Strict):
    cameras: VlanId | None = None
    quarantine: VlanId | None = None
    site_mgmt: VlanId | None = None
    unused: VlanId | None = None


class Site(Strict):
    id: Id
    commune: Id
    name: str = Field(min_length=1)
    transport: Transport
    tunnel: Tunnel | None = None
    wan_address: IPv4Address | None = Field(
        default=None, description="public/operator address of a VDSL or cellular uplink"
    )
    block: IPv4Network | None = Field(default=None, description="pin the site's block")
    switch: Switch
    vlans: SiteVlans = SiteVlans()
    ids_sensor: bool = True


class Camera(Strict):
    id: Id
    site: Id
    commune: Id
    mac: Mac
    model: str = Field(min_length=1)
    auth: AuthMethod
    identity: str | None = Field(default=None, description="EAP-TLS: the certificate subject CN the camera presents")
    port: Annotated[int, Field(ge=1, le=96)]
    purposes: tuple[Purpose, ...] = Field(min_length=1)
    ip: IPv4Address | None = Field(
        default=None, description="pin a static address (legacy cameras); else one is allocated"
    )


# --- state.yml, agents.yml, maintainers.yml, flows.yml ---------------------------------------


class StateEndpoint(Strict):
    id: Id
    service: Literal["police-nationale", "gendarmerie-nationale", "police-municipale"]
    address: IPv4Network


class StateConvention(Strict):
    reference: str = Field(min_length=1)
    signed: date
    endpoints: tuple[StateEndpoint, ...] = Field(min_length=1)
    shared_communes: tuple[Id, ...]
    state_retention_days: Annotated[int, Field(ge=1)]
    relay_port: Port = 8554


class Habilitation(Strict):
    order: str = Field(min_length=1, description="reference of the prefect's approval")
    expires: date


class Agent(Strict):
    id: Id
    name: str = Field(min_length=1)
    employer: str = Field(min_length=1)
    communes: tuple[Id, ...] = Field(min_length=1)
    habilitation: Habilitation


class Maintainer(Strict):
    id: Id
    name: str = Field(min_length=1)
    company: str = Field(min_length=1)
    sites: tuple[Id, ...] = Field(min_length=1)
    max_window_hours: Annotated[int, Field(ge=1, le=72)] = 8


class FlowEnd(Strict):
    zone: Zone
    site: Id | None = None
    hosts: tuple[Id, ...] = ()


class ExtraFlow(Strict):
    """A flow the deployment adds to the built-in ones; it passes the same guardrails."""

    id: Id
    src: FlowEnd
    dst: FlowEnd
    proto: Literal["tcp", "udp", "icmp"]
    ports: tuple[Port, ...] = ()
    service: str = Field(min_length=1)
    purpose: str = Field(min_length=1)
    controls: tuple[str, ...] = Field(min_length=1)


class Inventory(Strict):
    """Every file of a deployment folder, merged: one section per top-level key."""

    deployment: DeploymentInfo
    addressing: Addressing
    retention_days: Annotated[int, Field(ge=1)]
    augmented_analysis: AugmentedAnalysis = AugmentedAnalysis()
    csu: Csu
    communes: tuple[Commune, ...] = Field(min_length=1)
    sites: tuple[Site, ...] = Field(min_length=1)
    cameras: tuple[Camera, ...] = ()
    state_convention: StateConvention
    agents: tuple[Agent, ...] = ()
    maintainers: tuple[Maintainer, ...] = ()
    flows: tuple[ExtraFlow, ...] = ()


def section_file(section: str) -> str:
    """The file a top-level key belongs to (used to point errors at the right file)."""
    for name, keys in FILES.items():
        if section in keys:
            return name
    return "deployment.yml"

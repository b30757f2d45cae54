"""Opening a netmiko connection, with every failure turned into an error naming the device."""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from netmiko import ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException
from paramiko.ssh_exception import SSHException  # type: ignore[import-untyped]

from segmenting.push.errors import DeviceAuthFailed, DeviceUnreachable
from segmenting.push.targets import DeviceTarget

CONNECT_TIMEOUT = 10.0


def netmiko_connect(target: DeviceTarget, timeout: float = CONNECT_TIMEOUT) -> Any:
    target.check_key_file()
    params: dict[str, Any] = {
        "device_type": target.device_type,
        "host": target.host,
        "port": target.port,
        "username": target.username,
        "allow_agent": False,
        "conn_timeout": timeout,
        "auth_timeout": timeout,
        "banner_timeout": timeout,
        "fast_cli": True,
    }
    password = target.password()
    if password is not None:
        params["password"] = password
    if target.key_file is not None:
        params["use_keys"] = True
        params["key_file"] = str(target.key_file)
    else:
        params["use_keys"] = False
    if target.known_hosts is not None:
        # Pinned host key: a device presenting another key is refused, not trusted.
        params.update(
            ssh_strict=True,
            system_host_keys=False,
            alt_host_keys=True,
            alt_key_file=str(target.known_hosts),
        )
    where = f"{target.host}:{target.port}"
    try:
        conn: Any = ConnectHandler(**params)
    except NetmikoAuthenticationException:
        raise DeviceAuthFailed(
            target.name,
            f"authentication refused by {where} for user {target.username}",
            "check the username and the key or password variable given for this device",
        ) from None
    except NetmikoTimeoutException:
        raise DeviceUnreachable(
            target.name,
            f"cannot reach {where} over SSH",
            "check the address, the port and that the management VLAN is up",
        ) from None
    except (TimeoutError, SSHException, OSError, ValueError, EOFError) as exc:
        reason = str(exc) or type(exc).__name__
        if "host key" in reason.lower() or "not found in known_hosts" in reason.lower():
            raise DeviceAuthFailed(
                target.name,
                f"host key of {where} not accepted: {reason}",
                f"compare the device's key with {target.known_hosts}",
            ) from None
        raise DeviceUnreachable(target.name, f"SSH session to {where} failed: {reason}", "check the device") from None
    # A CLI session is many small writes (one line, then wait for its echo): without
    # TCP_NODELAY, Nagle's algorithm and delayed ACKs add tens of ms to every line.
    with contextlib.suppress(AttributeError, OSError):
        conn.remote_conn_pre.get_transport().sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn

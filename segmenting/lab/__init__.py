"""The lab: a reduced but faithful slice of a deployment's plan, built on one machine.

Managed hosts are systemd-nspawn nodes booted over an overlay of one cached mmdebstrap rootfs;
switches are Open vSwitch (userspace datapath) in their own network namespaces, gating camera
ports with 802.1X (hostapd, FreeRADIUS) and MAB; cameras and outside actors are plain network
namespaces. See shared/LAB-NOTES.md for what this kernel can do and the workarounds used here.

Modules: :mod:`names` (prefix, paths), :mod:`topology` (pure: plan in, lab description out),
:mod:`run` (the process/command adapter), :mod:`state` (what was started, for ``lab down``),
:mod:`rootfs`, :mod:`netns`, :mod:`nodes`, :mod:`switches`, :mod:`pki`, :mod:`cameras`,
:mod:`portd` (the switch's port-authentication logic), :mod:`access` (ssh_config, Ansible
inventory), :mod:`lab` (up/down/status), :mod:`cli`, :mod:`pytest_plugin`.
"""

"""Installing aardcheck's systemd units on this host (``aardcheck systemd install``): the
unit files the package ships (``units/``, a byte-for-byte copy of the repository's
``systemd/``) copied to where systemd looks, with this host's program paths written in.

Never talks to systemd: the ``systemctl`` commands to run are returned as text. May
import ``errors`` only; nothing but the CLI imports it.
"""

"""The CNI backend: names served by the ``dnsname`` plugin's dnsmasq (podman 3.x/4.x).

Pure model, ``addnhosts`` grammar and checks live here; reading the run directory is in
``aardcheck.sources.dnsname_files``. What the plugin does, with source references:
``docs/cni.md``.
"""

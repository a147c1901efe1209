"""Everything that touches the outside world, one module per source: the aardvark
directory (``aardvark_files``, where it is: ``discovery``), podman's REST API
(``podman_api``, its JSON: ``podman_json``, which host: ``podman_host``, a private
service: ``private_service``, the socket client: ``unix_http``), DNS probes and
neighbour liveness from inside network namespaces (``probe``, ``liveness``, through
``netns`` and its agent ``netns_agent/``), the dnsname plugin's directory
(``dnsname_files``) and a running watcher's answer (``watcher``).

Thin: read, decode into ``models``, report what could not be read as data. May import
``models``, ``errors``, ``format`` (parsing a file) and ``dnsname`` (its grammar); must
not import ``checks``, ``runner``, ``repair``, ``report``, the watcher or the CLI.
"""

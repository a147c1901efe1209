"""The bench's raw timer for podman's endpoints: aardcheck's own stdlib client
(``aardcheck.sources.unix_http``), so the report can say how much of a check is podman
and how much is the client."""

from aardcheck.sources.unix_http import HttpError, HttpReply, UnixHttp

__all__ = ["HttpError", "HttpReply", "UnixHttp"]

"""The base of the lab's HTTP servers: kept-alive connections, answered without delay.

Each server speaks HTTP/1.1, so a client (the official Kubernetes client, urllib3, kubectl,
Prometheus) keeps its connection open between requests. Python's handler sends a response's
headers and its body in two writes; with Nagle's algorithm on, the second write waits for
the client to acknowledge the first, and a client on a kept-alive connection delays that
acknowledgement by up to 40 ms. Every request after a connection's first then took about
42 ms instead of under 1 ms. Real servers (the Kubernetes API server, Go's net/http, the
distribution registry) turn Nagle off, so the lab's servers do too.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler


class KeepAliveHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY on each accepted connection

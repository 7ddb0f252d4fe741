"""HTTP hardening for every response: security headers, and the session cookie's
flags (set in ``vpp.config``)."""

import io

from flask import Flask, Response, current_app, request

from vpp.config import CHARTJS_CDN_URL


def content_security_policy() -> str:
    """Scripts and styles from this server only (no inline code: chart data is a
    JSON block, not a script), plus the Chart.js CDN unless told to stay local."""
    script_src = "'self'"
    if current_app.config["CHARTJS_SOURCE"] == "cdn":
        script_src += " " + CHARTJS_CDN_URL.split("/npm/")[0]
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {script_src}",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "static":
        # Pages and API answers hold fleet data, and some a secret shown once (a new
        # token, a new password): no browser or proxy cache may keep them.
        headers.setdefault("Cache-Control", "no-store")
    return response


class BoundedChunkedBody:
    """WSGI middleware: a body sent without ``Content-Length`` (chunked) is read here,
    up to one byte past the largest limit of any route. Werkzeug would otherwise
    hand the app the first limit's worth of bytes as if they were all (a 3 MB body
    with trailing spaces parsed as valid JSON). A body within the limit is passed on
    with its length; a longer one is passed on as "that long, unread", which the
    app refuses with 413 like any body whose declared length is too large."""

    def __init__(self, wsgi_app, limit: int):
        self.wsgi_app = wsgi_app
        self.limit = limit

    def __call__(self, environ, start_response):
        if environ.get("wsgi.input_terminated") and not environ.get("CONTENT_LENGTH"):
            stream = environ["wsgi.input"]
            chunks, size = [], 0
            while size <= self.limit:
                chunk = stream.read(min(65536, self.limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            body = b"".join(chunks) if size <= self.limit else b""
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(size)
            # De-chunked now: werkzeug ignores the length of a body still marked chunked.
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.wsgi_app(environ, start_response)


def buffer_static_files(response: Response) -> Response:
    """Static files are small (Chart.js, 210 kB, is the largest): read them into the
    response, so that compression (Flask-Compress, which runs after this) gives them
    gzip as well as brotli and closes the file with the response."""
    if request.endpoint == "static" and response.status_code == 200:
        response.direct_passthrough = False
        response.make_sequence()
    return response


def register_security(app: Flask) -> None:
    app.after_request(add_security_headers)
    app.after_request(buffer_static_files)
    # The largest body any route takes; each route's own limit is checked by Flask.
    largest = max(app.config["MAX_CONTENT_LENGTH"], app.config["MAX_BATCH_CONTENT_LENGTH"])
    app.wsgi_app = BoundedChunkedBody(app.wsgi_app, largest)
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        # Behind a reverse proxy: trust its X-Forwarded-For/-Proto/-Host, so that
        # redirects, external URLs and the client address are the real ones.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_prefix=proxies
        )

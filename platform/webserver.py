"""One web server process of `chorus up`: waitress, on the listening socket the supervisor opened.

Why waitress: its event loop reads each request completely, body included, before a worker thread
takes it, so clients that trickle a body byte by byte hold a cheap socket, not one of the threads
(with gunicorn's threaded workers eight such clients stopped the whole site). Several of these
processes share one socket, so the site keeps serving while the supervisor restarts one that died.
Production still puts a buffering proxy in front (see the README).
"""

from __future__ import annotations

import argparse
import socket

import waitress

from chorus.app import create_app


def serve(listener: socket.socket, threads: int) -> None:
    app = create_app()
    waitress.serve(
        app,
        sockets=[listener],
        threads=threads,
        ident="chorus",
        # The largest body any route accepts (admin uploads): waitress refuses bigger ones, chunked or
        # not, before buffering them; the app applies the public 256 kB to the buffered size.
        max_request_body_size=app.config["MAX_CONTENT_LENGTH"],
        connection_limit=1000,  # idle and slow connections cost a socket each, not a thread
        asyncore_use_poll=True,  # no select() limit of 1024 descriptors
        channel_timeout=60,
        clear_untrusted_proxy_headers=True,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chorus.webserver", description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, required=True, help="an inherited listening socket")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    serve(socket.socket(fileno=args.fd), args.threads)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""A real SMTP server on a free loopback port, for the mail tests (Debian's python3-aiosmtpd).

    smtpd.py --dir DIR [--user U --password P] [--down]

Prints the port on the first line of stdout, then serves until SIGTERM. Each message received is
stored as DIR/N.eml (the bytes as sent after DATA) with DIR/N.json beside it (envelope sender,
recipients, the AUTH login if any). Every byte a client sends is appended to DIR/transcript, so a
test can tell what went over the wire (an AUTH command, a password). --user/--password require
AUTH PLAIN or LOGIN with those credentials and allow them without TLS, as a test on loopback
needs. The server never offers STARTTLS. --down prints a port where nothing listens (connections
are refused) and waits.
"""
import argparse
import asyncio
import json
import os
import signal
import socket
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Store:
    def __init__(self, directory):
        self.dir = directory
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.dir, "%d" % self.n)
        with open(base + ".eml.part", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        login = session.auth_data  # what authenticator() returned on success: the user
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "login": login}, f)
        os.rename(base + ".eml.part", base + ".eml")
        return "250 Message accepted for delivery"


class RecordingSMTP(SMTP):
    """aiosmtpd's server, keeping a transcript of what clients send (before any parsing)."""

    def __init__(self, transcript, *args, **kwargs):
        self.transcript = transcript
        super().__init__(*args, **kwargs)

    def data_received(self, data):
        with open(self.transcript, "ab") as f:
            f.write(data)
        super().data_received(data)


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == user.encode() and auth_data.password == password.encode())
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)
    return check


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--down", action="store_true")
    ap.add_argument("--port", type=int, default=0, help="listen here (0: a free port)")
    a = ap.parse_args()

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_signal_handler(signal.SIGINT, loop.stop)
    if a.down:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now: connections are refused
        server = None
    else:
        kwargs = {}
        if a.user:
            kwargs = dict(auth_required=True, auth_require_tls=False,
                          authenticator=authenticator(a.user, a.password or ""))
        store = Store(a.dir)
        server = loop.run_until_complete(loop.create_server(
            lambda: RecordingSMTP(os.path.join(a.dir, "transcript"), store,
                                  hostname="smtpd.test", ident="bw-test-smtpd", **kwargs),
            "127.0.0.1", a.port))
        port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    loop.run_forever()
    if server:
        server.close()
        loop.run_until_complete(server.wait_closed())
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

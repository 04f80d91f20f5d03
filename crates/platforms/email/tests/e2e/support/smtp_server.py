"""aiosmtpd as the SMTP peer of hermod-email's tests.

Usage: smtp_server.py HOST PORT MAILDIR FAULT_FILE USER PASSWORD [CERT KEY [SMTPS_PORT]]

Mail is stored in MAILDIR (aiosmtpd's Mailbox handler). AUTH PLAIN and
LOGIN are offered (also before STARTTLS, so the plain-text path is
testable) and checked against USER/PASSWORD. With CERT and KEY the server
offers STARTTLS, and with SMTPS_PORT a second listener there speaks TLS
from the first byte (same mailbox, same faults). When FAULT_FILE exists, its text is the answer to the
next DATA (for example `421 4.7.0 Try again in 3 seconds`) and the file
is removed. Prints `ready` once the server accepts connections; exits when
its parent does.
"""

import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler(Mailbox):
    def __init__(self, maildir, fault_file):
        super().__init__(maildir)
        self.fault_file = fault_file

    async def handle_DATA(self, server, session, envelope):
        try:
            with open(self.fault_file) as f:
                fault = f.read().strip()
            os.remove(self.fault_file)
            if fault:
                return fault
        except FileNotFoundError:
            pass
        return await super().handle_DATA(server, session, envelope)


def main():
    host, port, maildir, fault_file, user, password = sys.argv[1:7]
    tls = None
    if len(sys.argv) > 8:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(sys.argv[7], sys.argv[8])

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok)

    controller = Controller(
        Handler(maildir, fault_file),
        hostname=host,
        port=int(port),
        tls_context=tls,
        require_starttls=False,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    controllers = [controller]
    if len(sys.argv) > 9:
        smtps = Controller(
            controller.handler,
            hostname=host,
            port=int(sys.argv[9]),
            ssl_context=tls,
            authenticator=authenticate,
            auth_require_tls=False,
        )
        smtps.start()
        controllers.append(smtps)
    print("ready", flush=True)
    parent = os.getppid()
    try:
        while os.getppid() == parent:
            time.sleep(0.2)
    finally:
        for c in controllers:
            c.stop()


if __name__ == "__main__":
    main()

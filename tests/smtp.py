"""A real SMTP server for tests (aiosmtpd on a free loopback port) that keeps what it receives, to be read back."""
from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


class Inbox:
    """aiosmtpd handler: refuses recipients starting with `bounce` (550), keeps every message it accepts."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._cond = threading.Condition()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self._cond:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw, message))
            self._cond.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, to: str, count: int = 1, timeout: float = 15) -> list[Received]:
        """The first `count` messages to `to`, waiting for them to arrive (the app's sender thread sends them)."""
        def mine():
            return [r for r in self.received if to in r.rcpt_tos]

        with self._cond:
            assert self._cond.wait_for(lambda: len(mine()) >= count, timeout), f"{count} mail(s) to {to} never came"
            return mine()[:count]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SMTPServer:
    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SMTPServer":
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()

"""A real DNS server on loopback (UDP, dnspython's wire format) that answers TXT queries from a callback.

The drill's emulated VPC resolver and the witness tests use it, so the probe's resolver code
(gdfailover.witness, dnspython) runs against real DNS messages: NXDOMAIN, timeouts and answers included.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from types import TracebackType

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

#: name (absolute, lower case) -> (TXT text, TTL), or None for NXDOMAIN; raising drops the query (a timeout)
TxtAnswer = Callable[[str], tuple[str, int] | None]


class DropQuery(Exception):
    """Raised by an answer callback: the server sends nothing (the client times out)."""


class LocalDnsServer:
    def __init__(self, answer: TxtAnswer, host: str = "127.0.0.1", *, start: bool = True) -> None:
        """Binds a free UDP port on ``host`` at once (``address`` is known before :meth:`start`) unless
        ``start`` is False: then :meth:`start` binds it."""
        self._answer = answer
        self._host = host
        self._socket: socket.socket | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="local-dns", daemon=True)
        self.queries = 0
        if start:
            self._bind()

    def _bind(self) -> None:
        if self._socket is None:
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._socket.bind((self._host, 0))
            self._socket.settimeout(0.2)

    @property
    def address(self) -> str:
        if self._socket is None:
            raise RuntimeError("the DNS server is not started")
        host, port = self._socket.getsockname()[:2]
        return f"{host}:{port}"

    def __enter__(self) -> LocalDnsServer:
        self._bind()
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> LocalDnsServer:
        return self.__enter__()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        if self._socket is not None:
            self._socket.close()

    def _serve(self) -> None:
        assert self._socket is not None
        while not self._stop.is_set():
            try:
                wire, client = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(wire)
            except dns.exception.DNSException:
                continue
            self.queries += 1
            try:
                response = self._respond(query)
            except DropQuery:
                continue
            self._socket.sendto(response.to_wire(), client)

    def _respond(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower()
        found = self._answer(name)
        if found is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response
        text, ttl = found
        if question.rdtype == dns.rdatatype.TXT:
            response.answer.append(
                dns.rrset.from_text(question.name, ttl, dns.rdataclass.IN, dns.rdatatype.TXT, f'"{text}"')
            )
        return response

"""Indicators out of a mail: addresses, originating IP, URLs, domains, file names and hashes."""

from __future__ import annotations

import ipaddress
import re

from spearhunt.detect.mail.context import MailContext
from spearhunt.model.mail import AttachmentReport, Ioc

_IP = re.compile(r"\[(\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]{3,39})\]|\((\d{1,3}(?:\.\d{1,3}){3})\)")
MAX_URLS = 200


def originating_ip(received: tuple[str, ...]) -> str | None:
    """First public address in the oldest Received header that has one."""
    for header in reversed(received):
        for bracket, paren in _IP.findall(header):
            candidate = bracket or paren
            try:
                ip = ipaddress.ip_address(candidate)
            except ValueError:
                continue
            if ip.is_global:
                return str(ip)
    return None


def collect(ctx: MailContext, attachments: tuple[AttachmentReport, ...]) -> tuple[Ioc, ...]:
    """Every indicator, deduplicated, exact (defanging is the renderer's job)."""
    out: list[Ioc] = []
    if ctx.sender and ctx.sender.address:
        out.append(Ioc("sender", ctx.sender.address))
    out.extend(Ioc("reply_to", a.address) for a in ctx.reply_to if a.address)
    if ctx.return_path:
        out.append(Ioc("return_path", ctx.return_path.address))
    ip = originating_ip(ctx.raw.header_all("Received"))
    if ip:
        out.append(Ioc("ip", ip))
    hosts: list[str] = [ctx.sender.domain] if ctx.sender and ctx.sender.domain else []
    for link in ctx.links[:MAX_URLS]:
        out.append(Ioc("url", link.url))
        if link.host:
            hosts.append(link.host)
    out.extend(Ioc("domain", h) for h in dict.fromkeys(hosts))
    for att in attachments:
        for part in att.walk():
            out.append(Ioc("filename", part.name))
            out.extend((Ioc("sha256", part.sha256), Ioc("md5", part.md5), Ioc("sha1", part.sha1)))
    return tuple(dict.fromkeys(out))

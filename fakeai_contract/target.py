"""The target checked before anything is sent: scheme, host, port, path prefix, credentials, TLS.

A base URL ending in /v1 is the API root the way OpenAI clients mean it: every contract path
(/v1/chat/completions, /health, /metrics) then resolves against the server root in front of it.
"""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import os
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from fakeai_contract.errors import UsageError
from fakeai_contract.model import Contract

SCHEMES = ("http", "https")
_HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$")
_API_SUFFIX = "/v1"
#: userinfo in any URL-looking text, for redacting before a contract (and its secrets) is loaded
_USERINFO = re.compile(r"://([^/@\s:]*):([^/@\s]+)@")


@dataclass(frozen=True)
class TargetURL:
    """A validated base URL: where paths resolve, and what the user wrote (credentials removed)."""

    written: str                  # the base URL as given, without credentials
    root: str                     # scheme://host[:port][/prefix]: every contract path resolves here
    api_root: bool = False        # the base URL ended in /v1
    username: str | None = None
    password: str | None = None

    def describe(self) -> str:
        """The report's Target line."""
        if not self.api_root:
            return self.written
        return f"{self.written} (API root; health and metrics paths resolve against {self.root})"


def url_passwords(text: str) -> set[str]:
    """Passwords of any user:password@ in TEXT (raw and percent-decoded), to redact."""
    found = set()
    for m in _USERINFO.finditer(text or ""):
        found |= {m.group(2), unquote(m.group(2)), f"{m.group(1)}:{m.group(2)}"}
    return {s for s in found if s}


def _masked(url: str) -> str:
    return _USERINFO.sub(lambda m: f"://{m.group(1)}:***@", url)


def check_port(value: str, flag: str = "--port") -> str:
    """VALUE as a port number 1..65535, or UsageError naming FLAG."""
    text = str(value).strip()
    if not text.isdigit() or not 0 < int(text) <= 65535:
        raise UsageError(f"{flag} {value!r} is not a port number",
                         fix=f"write a number from 1 to 65535, e.g. {flag} 8765")
    return str(int(text))


def check_host(value: str, flag: str = "--host") -> str:
    """VALUE as a host for a URL (an IPv6 address in brackets), or UsageError naming FLAG."""
    text = str(value).strip()
    if "://" in text or "/" in text:
        raise UsageError(f"{flag} {value!r} is a URL, not a host",
                         fix=f"write only the host, e.g. {flag} 127.0.0.1, or give the whole URL with --base-url")
    if ":" in text and not text.startswith("["):
        raise UsageError(f"{flag} {value!r}: an IPv6 address goes in brackets in a URL",
                         fix=f"write {flag} [{text}]")
    if not _valid_host(text):
        raise UsageError(f"{flag} {value!r} is not a host name or address",
                         fix=f"write for example {flag} 127.0.0.1 or {flag} localhost")
    return text


def _valid_host(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1].split("%")[0])
            return True
        except ValueError:
            return False
    return bool(host) and len(host) <= 253 and bool(_HOSTNAME.match(host))


def parse_base_url(url: str, origin: str = "the base URL") -> TargetURL:
    """URL checked and split; an unusable one is UsageError with the fix (ORIGIN names where it came from)."""
    shown = _masked(url)
    text = url.strip()

    def bad(what: str, fix: str) -> UsageError:
        return UsageError(f"{origin} {shown!r} {what}", fix=fix)

    if "://" not in text:
        raise bad("has no scheme", f"write http://{text.lstrip('/')} (or https://...)")
    scheme = text.split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        raise bad(f"uses the scheme {scheme!r}", "write an http:// or https:// URL")
    try:
        parts = urlsplit(text)      # the port is checked below, with a clearer message
    except ValueError:
        raise bad("has a malformed IPv6 address", f"write it in brackets, e.g. {scheme}://[::1]:8765") from None
    hostport = parts.netloc.rpartition("@")[2]
    if parts.query or parts.fragment:
        raise bad("has a query or fragment", f"write only scheme, host, port and path: {scheme}://{hostport}{parts.path}")
    if hostport.startswith("["):
        host, _, rest = hostport.partition("]")
        host += "]"
        port = rest[1:] if rest.startswith(":") else None
        if rest and not rest.startswith(":"):
            raise bad("has text after the IPv6 address", f"write {scheme}://{host}:PORT")
    elif hostport.count(":") > 1:
        raise bad("has an IPv6 address without brackets",
                  f"write the address in brackets, e.g. {scheme}://[::1]:8765")
    else:
        host, sep, port = hostport.partition(":")
        port = port if sep else None
    if not _valid_host(host):
        raise bad(f"has no usable host ({host!r})", f"write for example {scheme}://127.0.0.1:8765")
    if port is not None:
        if not port.isdigit() or not 0 < int(port) <= 65535:
            raise bad(f"has the port {port!r}", "a port is a number from 1 to 65535 (--port, FAKEAI_PORT)")
        port = str(int(port))
    path = parts.path.rstrip("/")
    if re.search(r"\s", path):
        raise bad("has white space in its path", "percent-encode it or remove it")
    authority = host + (f":{port}" if port else "")
    written = f"{scheme}://{authority}{path}"
    api_root = path.endswith(_API_SUFFIX)
    root = f"{scheme}://{authority}{path[:-len(_API_SUFFIX)] if api_root else path}"
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return TargetURL(written, root, api_root, user, password)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _auth_headers(headers: dict[str, str], url: TargetURL, origin: str) -> dict[str, str]:
    """HEADERS with the URL's credentials as basic auth (an empty 'Bearer ' header gives way)."""
    if url.username is None and url.password is None:
        return headers
    out = {}
    for name, value in headers.items():
        if name.lower() != "authorization":
            out[name] = value
        elif value.strip().partition(" ")[2].strip():
            raise UsageError(f"{origin} carries credentials and the target also sends an Authorization header",
                             fix="keep one: remove user:password@ from the URL, or unset the header's key")
    out["Authorization"] = _basic(url.username or "", url.password or "")
    return out


def _tls_context(contract: Contract, origin: str) -> None:
    """A CA file that cannot be read is the user's mistake, found before any request."""
    t = contract.target
    if t.ca_file is None:
        return
    try:
        ssl.create_default_context(cafile=t.ca_file)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise UsageError(f"target.tls.ca_file {t.ca_file!r} cannot be used: {getattr(exc, 'strerror', None) or exc}",
                         fix="name a PEM file of CA certificates (relative paths are from the contract's folder)") from None


def prepare(contract: Contract, *, origin: str = "target.base_url", insecure: bool = False) -> tuple[Contract, TargetURL]:
    """CONTRACT with its target checked and resolved: paths against the server root, URL
    credentials as basic auth (and redacted), TLS options applied."""
    url = parse_base_url(contract.target.base_url, origin)
    headers = _auth_headers(dict(contract.target.headers), url, origin)
    secrets = set(contract.secrets) | url_passwords(contract.target.base_url)
    if url.password:
        secrets |= {url.password, headers["Authorization"], headers["Authorization"].partition(" ")[2]}
    target = dataclasses.replace(contract.target, base_url=url.root, headers=headers)
    if insecure:
        target = dataclasses.replace(target, tls_verify=False)
    if target.ca_file and not os.path.isabs(target.ca_file):
        target = dataclasses.replace(target, ca_file=str(Path(contract.source).absolute().parent / target.ca_file))
    contract = dataclasses.replace(contract, target=target, secrets=frozenset(secrets))
    _tls_context(contract, origin)
    return contract, url

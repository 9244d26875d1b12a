"""What a request says about the browser, reduced to what people may be shown and what may be stored.

Browser and system names come from a fixed list (a hostile User-Agent can never put its own text on
a page or in a row; the raw header is never stored), and the client address is reduced to its
network: an IPv4 /24 or an IPv6 /48. Used by the cross-device QR login (what the phone is told about
the computer), new-device notifications and the login history.
"""

from __future__ import annotations

import ipaddress

BROWSERS = (("Edg/", "Edge"), ("EdgA/", "Edge"), ("OPR/", "Opera"), ("SamsungBrowser/", "Samsung Internet"),
            ("CocCoc", "Cốc Cốc"), ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"), ("CriOS/", "Chrome"),
            ("Chrome/", "Chrome"), ("Safari/", "Safari"))
SYSTEMS = (("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"),
           ("CrOS", "ChromeOS"), ("Mac OS X", "macOS"), ("Macintosh", "macOS"), ("Linux", "Linux"))
AGENT_MAX = 512  # longer User-Agent headers are read only this far
DEVICE_SEPARATOR = " on "  # device_label: "Chrome on Android" (no name in the lists contains it)


def describe_agent(user_agent: str) -> tuple[str, str]:
    """Return (browser, operating system) names from a fixed list, "" when not recognised."""
    agent = user_agent[:AGENT_MAX]
    browser = next((name for marker, name in BROWSERS if marker in agent), "")
    system = next((name for marker, name in SYSTEMS if marker in agent), "")
    return browser, system


def device_label(user_agent: str) -> str | None:
    """A stored, language-neutral label: "Chrome on Android", "Firefox", "Android"; None when unknown."""
    parts = [part for part in describe_agent(user_agent) if part]
    return DEVICE_SEPARATOR.join(parts) or None


def device_parts(label: str | None) -> tuple[str, str]:
    """Split a `device_label` back into (browser, system), for pages that say "on" in their language."""
    if not label:
        return "", ""
    browser, _, system = label.partition(DEVICE_SEPARATOR)
    if not system and browser in {name for _marker, name in SYSTEMS}:
        return "", browser
    return browser, system


def client_network(address: str | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network of a client address (IPv4 /24, IPv6 /48; IPv4-mapped IPv6 as IPv4); None if malformed."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if isinstance(ip, ipaddress.IPv4Address) else 48
    return ipaddress.ip_network(f"{ip}/{prefix}", strict=False)


def masked_network(address: str | None) -> str | None:
    """The network in CIDR notation, for storage: "203.0.113.0/24", "2001:db8:1::/48"; None if malformed."""
    network = client_network(address)
    return str(network) if network is not None else None


def mask_address(address: str | None) -> str:
    """The network, not the machine, for display: "203.0.113.*" (IPv4 /24) or "2001:db8:1::/48"; "" if malformed."""
    network = client_network(address)
    if network is None:
        return ""
    if network.version == 4:
        return ".".join(str(network.network_address).split(".")[:3]) + ".*"
    return str(network)

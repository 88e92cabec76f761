"""Banked URLs (exact, after normalisation) and domains (the host or any of its subdomains)."""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import urlsplit

from posbon.signals.urls import normalize_domain, normalize_url


class UrlIndex:
    """Keys of banked URLs and domains; lookups take a URL and return (key, matched banked value)."""

    def __init__(self) -> None:
        self._urls: dict[str, list[int]] = defaultdict(list)
        self._domains: dict[str, list[int]] = defaultdict(list)

    def __len__(self) -> int:
        return sum(map(len, self._urls.values())) + sum(map(len, self._domains.values()))

    def add_url(self, key: int, url: str) -> bool:
        normal = normalize_url(url)
        if normal is None:
            return False
        self._urls[normal].append(key)
        return True

    def add_domain(self, key: int, domain: str) -> bool:
        normal = normalize_domain(domain)
        if normal is None:
            return False
        self._domains[normal].append(key)
        return True

    def lookup_url(self, url: str) -> list[tuple[int, str]]:
        """Banked URL entries equal to `url`, then domain entries for its host or a parent domain of it.

        Parents are whole labels only: "evil-example.com" never matches the domain "example.com".
        """
        normal = normalize_url(url)
        if normal is None:
            return []
        found = [(key, normal) for key in self._urls.get(normal, ())]
        found.extend(self.lookup_host(urlsplit(normal).hostname or ""))
        return found

    def lookup_host(self, host: str) -> list[tuple[int, str]]:
        """Domain entries for `host` or any parent domain of it (at least two labels)."""
        labels = host.split(".")
        found: list[tuple[int, str]] = []
        for i in range(max(0, len(labels) - 1)):
            suffix = ".".join(labels[i:])
            found.extend((key, suffix) for key in self._domains.get(suffix, ()))
        return found

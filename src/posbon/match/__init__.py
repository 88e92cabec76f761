"""Indexes of banks: PDQ range search, near-duplicate text, URL and domain sets; bank list readers."""

from posbon.match.banklist import NewEntry, entries_from_files, read_bank_list
from posbon.match.matcher import Matcher

__all__ = ["Matcher", "NewEntry", "entries_from_files", "read_bank_list"]

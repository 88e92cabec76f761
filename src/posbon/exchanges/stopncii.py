"""StopNCII.org's hash feed, through threatexchange's StopNCII client.

threatexchange's `StopNCIISignalExchangeAPI` decides deletions by comparing the hash value with a case
status (so it never deletes); posbon reads the record's `hashStatus` instead: Withdrawn or Deleted
withdraws the entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from threatexchange.exchanges.clients.stopncii import api as ncii_api

from posbon.domain import Problem, SignalType
from posbon.exchanges.base import Batch, Exchange, ExchangeError
from posbon.match.banklist import InvalidEntry, validate_signal
from posbon.store.db import ExchangeUpdate

DEFAULT_BASE_URL = ncii_api.StopNCIIAPI.BASE_URL
SIGNAL_TYPES = {
    ncii_api.StopNCIISignalType.ImagePDQ: SignalType.PDQ,
    ncii_api.StopNCIISignalType.VideoMD5: SignalType.MD5,
    ncii_api.StopNCIISignalType.URL: SignalType.URL,
    ncii_api.StopNCIISignalType.Text: SignalType.TEXT,
}
_WITHDRAWN = (ncii_api.StopNCIICaseStatus.Withdrawn, ncii_api.StopNCIICaseStatus.Deleted)


def _update(record: ncii_api.StopNCIIHashRecord) -> ExchangeUpdate | Problem:
    where = "stopncii feed"
    signal_type = SIGNAL_TYPES.get(record.signalType)
    if signal_type is None:
        return Problem(where, None, f"signal type {record.signalType.value} not banked", note=True)
    try:
        value, _ = validate_signal(signal_type, record.hashValue)
    except InvalidEntry as exc:
        return Problem(where, None, f"{record.signalType.value}: {exc}")
    if record.hashStatus in _WITHDRAWN:
        return ExchangeUpdate(signal_type, value, deleted=True)
    tags = sorted({tag for feedback in record.CSPFeedbacks for tag in feedback.tags})
    feedback = sorted(f"{f.source}:{f.feedbackValue.value}" for f in record.CSPFeedbacks)
    extra = {
        "hash_status": record.hashStatus.value,
        "cases": len(record.caseNumbers),
        "tags": tags,
        "feedback": feedback,
        "last_modified": record.lastModtimestamp,
    }
    return ExchangeUpdate(signal_type, value, ", ".join(tags) or "StopNCII", extra)


class StopNCIIExchange(Exchange):
    name = "stopncii"
    env_prefix = "STOPNCII"

    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[Batch]:
        keys = self.config.get("keys", secret=True)
        if keys:  # threatexchange's format: "fetch_function_key,subscription_key"
            fetch_key, _, subscription_key = keys.partition(",")
            self.secrets.update({fetch_key, subscription_key})
        else:
            fetch_key = self.config.get("fetch_key", secret=True, required=True) or ""
            subscription_key = self.config.get("subscription_key", secret=True, required=True) or ""
        if not fetch_key or not subscription_key:
            raise ExchangeError("stopncii: POSBON_STOPNCII_KEYS must be 'FETCH_KEY,SUBSCRIPTION_KEY'")
        base_url = (self.config.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        client = ncii_api.StopNCIIAPI(subscription_key, fetch_key, base_url_override=base_url)
        start = int((checkpoint or {}).get("update_time") or ncii_api.StopNCIIAPI.DEFAULT_START_TIME)
        for page in client.fetch_hashes_iter(start_timestamp=start):
            updates: list[ExchangeUpdate] = []
            problems: list[Problem] = []
            for record in page.hashRecords:
                result = _update(record)
                if isinstance(result, Problem):
                    problems.append(result)
                else:
                    updates.append(result)
            yield Batch(updates, {"update_time": page.nextSetTimestamp}, problems)

"""Meta's ThreatExchange (/threat_updates of one privacy group), through threatexchange's own API class."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from threatexchange.exchanges.clients.fb_threatexchange.api import ThreatExchangeAPI, is_valid_app_token
from threatexchange.exchanges.clients.fb_threatexchange.threat_updates import ThreatUpdateJSON
from threatexchange.exchanges.impl.fb_threatexchange_api import (
    FBThreatExchangeCheckpoint,
    FBThreatExchangeCollabConfig,
    FBThreatExchangeIndicatorRecord,
    FBThreatExchangeSignalExchangeAPI,
    ThreatExchangeDelta,
)
from threatexchange.signal_type.signal_base import SignalType as TxSignalType

from posbon.domain import Problem, SignalType
from posbon.exchanges.base import Batch, Exchange, ExchangeError
from posbon.match.banklist import InvalidEntry, validate_signal
from posbon.store.db import ExchangeUpdate

DEFAULT_BASE_URL = ThreatExchangeAPI._TE_BASE_URL
# ThreatExchange indicator types posbon can bank
THREAT_TYPES = {
    "HASH_PDQ": SignalType.PDQ,
    "HASH_MD5": SignalType.MD5,
    "HASH_VIDEO_MD5": SignalType.MD5,
    "URI": SignalType.URL,
    "RAW_URI": SignalType.URL,
    "UNCLICKABLE_URL": SignalType.URL,
    "DOMAIN": SignalType.DOMAIN,
}


class ResumableThreatExchangeAPI(FBThreatExchangeSignalExchangeAPI):
    """FBThreatExchangeSignalExchangeAPI whose fetch accepts a page with no updates (a rerun when nothing
    changed): the library asserts every page is non-empty."""

    def fetch_iter(
        self,
        _supported_signal_types: Sequence[type[TxSignalType]],
        checkpoint: FBThreatExchangeCheckpoint | None,
    ) -> Iterator[ThreatExchangeDelta]:
        start_time = None if checkpoint is None else checkpoint.update_time
        cursor = self.client.get_threat_updates(
            self.collab.privacy_group,
            start_time=start_time,
            page_size=100,
            fields=ThreatUpdateJSON.te_threat_updates_fields(),
            decode_fn=ThreatUpdateJSON,
        )
        highest = start_time or 0
        for page in cursor:
            if not page:
                continue
            highest = max(highest, *(update.time for update in page))
            updates = {
                (u.threat_type, u.indicator): FBThreatExchangeIndicatorRecord.from_threatexchange_json(
                    self.client.app_id, u
                )
                for u in page
            }
            yield ThreatExchangeDelta(updates, FBThreatExchangeCheckpoint(highest))


def _labels(record: FBThreatExchangeIndicatorRecord) -> tuple[str | None, dict[str, Any]]:
    tags = sorted({tag for opinion in record.opinions for tag in opinion.tags})
    owners = sorted({opinion.owner_app_id for opinion in record.opinions})
    opinion = record.get_as_aggregate_opinion().category.name.lower()
    return (", ".join(tags) or None), {"tags": tags, "owners": owners, "opinion": opinion}


class ThreatExchangeExchange(Exchange):
    name = "threatexchange"
    env_prefix = "TE"

    def fetch(self, checkpoint: dict[str, Any] | None) -> Iterator[Batch]:
        token = self.config.get("app_token", secret=True, required=True)
        group = self.config.get("privacy_group", required=True)
        base_url = self.config.get("base_url") or DEFAULT_BASE_URL
        assert token is not None and group is not None
        if not is_valid_app_token(token):
            raise ExchangeError("threatexchange: POSBON_TE_APP_TOKEN is not an app token (APPID|KEY)")
        try:
            privacy_group = int(group)
        except ValueError:
            raise ExchangeError(f"threatexchange: privacy_group must be a number, got {group!r}") from None
        client = ThreatExchangeAPI(token, endpoint_override=base_url.rstrip("/"))
        collab = FBThreatExchangeCollabConfig(name=f"posbon-{privacy_group}", privacy_group=privacy_group)
        api = ResumableThreatExchangeAPI(client, collab)
        previous = None
        if checkpoint and checkpoint.get("update_time"):
            previous = FBThreatExchangeCheckpoint(update_time=int(checkpoint["update_time"]))
        for delta in api.fetch_iter([], previous):
            updates: list[ExchangeUpdate] = []
            problems: list[Problem] = []
            for (threat_type, indicator), record in delta.updates.items():
                signal_type = THREAT_TYPES.get(threat_type)
                where = f"threatexchange privacy group {privacy_group}"
                if signal_type is None:
                    message = f"indicator type {threat_type} not banked"
                    problems.append(Problem(where, None, message, note=True))
                    continue
                try:
                    value, _ = validate_signal(signal_type, indicator)
                except InvalidEntry as exc:
                    problems.append(Problem(where, None, f"{threat_type}: {exc}"))
                    continue
                if record is None:
                    updates.append(ExchangeUpdate(signal_type, value, deleted=True))
                    continue
                label, extra = _labels(record)
                extra["threat_type"] = threat_type
                updates.append(ExchangeUpdate(signal_type, value, label, extra))
            yield Batch(updates, {"update_time": delta.checkpoint.update_time}, problems)

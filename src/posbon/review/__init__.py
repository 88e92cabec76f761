"""Review and due process: queue, decisions, second review, appeals, removal orders, statements of reasons,
users and API keys, and the hash-chained audit log. The CLI and the web UI call these services; each one
writes its audit record in the same transaction as its change.

No service takes an author: posbon has no search or export of items by who posted them.
"""

from posbon.review.accounts import (
    ROLES,
    create_api_key,
    create_user,
    get_user,
    list_api_keys,
    list_users,
    record_login,
    revoke_api_key,
    set_user_disabled,
    verify_api_key,
    verify_password,
)
from posbon.review.audit import AuditBreak, records, verify
from posbon.review.decisions import (
    action_order,
    appeal,
    assign_appeal,
    decide,
    decisions_for,
    open_orders,
    orders_overdue,
    record_order,
    resolve_appeal,
)
from posbon.review.policies import activate_policy, active_policy, policy_history
from posbon.review.purge import PurgeResult, purge
from posbon.review.queue import QueueEntry, queue, queue_size, sync_queue
from posbon.review.session import ReviewError
from posbon.review.sor import export_statements, statements_for
from posbon.store.review_models import (
    ApiKeyRow as ApiKey,
)
from posbon.store.review_models import (
    AppealRow as Appeal,
)
from posbon.store.review_models import (
    DecisionRow as Decision,
)
from posbon.store.review_models import (
    RemovalOrderRow as RemovalOrder,
)
from posbon.store.review_models import (
    UserRow as User,
)

__all__ = [
    "ROLES",
    "ApiKey",
    "Appeal",
    "AuditBreak",
    "Decision",
    "PurgeResult",
    "QueueEntry",
    "RemovalOrder",
    "ReviewError",
    "User",
    "action_order",
    "activate_policy",
    "active_policy",
    "appeal",
    "assign_appeal",
    "create_api_key",
    "create_user",
    "decide",
    "decisions_for",
    "export_statements",
    "get_user",
    "list_api_keys",
    "list_users",
    "open_orders",
    "orders_overdue",
    "policy_history",
    "purge",
    "queue",
    "queue_size",
    "record_login",
    "record_order",
    "records",
    "resolve_appeal",
    "revoke_api_key",
    "set_user_disabled",
    "statements_for",
    "sync_queue",
    "verify",
    "verify_api_key",
    "verify_password",
]

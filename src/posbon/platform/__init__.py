"""Platform integration: notice and action (DSA Art. 16), removal orders and referrals from authorities
(Regulation 2021/784), and signed action webhooks to the platform (transactional outbox).

Modules: `partners` (keys for authorities and trusted flaggers), `notices`, `authorities`, `webhooks`,
`verify` (the receiver's signature check, stdlib only). Import them directly: this package imports nothing
itself, so the review code can import `posbon.platform.webhooks` without an import cycle.
"""

"""Staff roles: named groups of action-level permissions.

A role says what a person may do; brand and operator grants (selectors.py) say where.
`manage.py sync_roles` makes the groups match this table exactly, so a permission taken
out here is taken away from everyone holding the role.
"""

VIEW_TENANTS = ["tenants.view_operator", "tenants.view_brand"]
VIEW_LEDGER = ["wallet.view_wallet", "wallet.view_ledgertransaction", "wallet.view_ledgerentry"]
VIEW_GAMES = ["games.view_game", "games.view_gamesession", "games.view_round"]
VIEW_PAYMENTS = [
    "payments.view_payment",
    "payments.view_paymentapproval",
    "payments.view_reviewaction",
    "payments.view_paymentincident",
    "payments.view_paymentaccount",
]
REVIEW_PAYMENTS = [
    "payments.review_payments",
    "payments.approve_payment",
    "payments.escalate_payment",
    "payments.bulk_approve_payments",
]
VIEW_RG = [
    "responsible_gaming.view_limit",
    "responsible_gaming.view_limitchange",
    "responsible_gaming.view_exclusion",
    "responsible_gaming.view_refusal",
]
# Self-exclusion registers: configuration (keys never shown), check history, batch runs.
VIEW_EXCLUSIONS = [
    "exclusions.view_registerconfig",
    "exclusions.view_registercheck",
    "exclusions.view_batchrun",
    "exclusions.view_batchchunk",
]
CONFIGURE_EXCLUSIONS = [
    "exclusions.view_registerconfig",
    "exclusions.add_registerconfig",
    "exclusions.change_registerconfig",
]
# Marketing lists: who may be contacted (exclusions.marketing_export) and what was removed, why.
VIEW_MARKETING_EXPORTS = ["exclusions.view_marketingexport", "exclusions.view_marketingremoval"]
EXPORT_MARKETING = [*VIEW_MARKETING_EXPORTS, "exclusions.export_marketing"]

# Timeline retention (policies per brand, what each purge removed) and GDPR erasure.
VIEW_RETENTION = [
    "timeline.view_retentionpolicy",
    "timeline.view_purgerecord",
    "timeline.view_erasurerequest",
]
ERASURE = ["timeline.add_erasurerequest", "timeline.process_erasure"]
CONFIGURE_RETENTION = [
    "timeline.add_retentionpolicy",
    "timeline.change_retentionpolicy",
    "timeline.delete_retentionpolicy",
]

# BeAware: rules, their versions and hits, what they did, and their backtests.
VIEW_RULES = [
    "rules.view_rule",
    "rules.view_ruleversion",
    "rules.view_rulehit",
    "rules.view_riskmarker",
    "rules.view_reviewtask",
    "rules.view_message",
    "rules.view_backtestrun",
]
WRITE_RULES = ["rules.add_rule", "rules.change_rule", "rules.enable_rule", "rules.run_backtest"]
WORK_RULE_OUTCOMES = ["rules.change_riskmarker", "rules.work_review_task"]

# IP lists (apps/security): a brand's blocklist. Global and provider entries also need
# security.manage_global_ip_rules, held by no role (platform staff, granted one by one).
MANAGE_BRAND_IP_RULES = [
    "security.view_iprule",
    "security.add_iprule",
    "security.change_iprule",
    "security.delete_iprule",
]

# Live dashboards: the operations counters and the alerts feed of their brands (the live
# review queue needs only payments.view_payment).
VIEW_DASHBOARDS = ["dashboards.view_dashboard"]

ROLES: dict[str, list[str]] = {
    "Compliance officer": [
        *VIEW_DASHBOARDS,
        *VIEW_TENANTS,
        "players.view_player",
        "players.view_personal_data",
        "timeline.view_timelineentry",
        "players.change_player_status",
        "players.export_players",
        "core.view_event",
        "auditlog.view_logentry",
        "security.view_auditrecord",
        *VIEW_LEDGER,
        "wallet.view_adjustmentrequest",
        "wallet.approve_adjustment",
        "wallet.view_reconciliationmismatch",
        *VIEW_GAMES,
        *VIEW_RG,
        "responsible_gaming.set_limits",
        "compliance.view_brandrulesversion",
        *VIEW_EXCLUSIONS,
        "exclusions.check_now",
        *EXPORT_MARKETING,
        *VIEW_PAYMENTS,
        *REVIEW_PAYMENTS,
        "payments.review_senior_queue",
        "payments.approve_large_withdrawal",
        "payments.change_paymentincident",
        "payments.view_reviewpolicy",
        *VIEW_RULES,
        *WRITE_RULES,
        *WORK_RULE_OUTCOMES,
        *VIEW_RETENTION,
        *ERASURE,
    ],
    "Support agent": [
        *VIEW_TENANTS,
        "players.view_player",
        "players.view_personal_data",
        "timeline.view_timelineentry",
        "players.change_player",
        *VIEW_LEDGER,
        "wallet.view_adjustmentrequest",
        "wallet.adjust_balance",
        *VIEW_GAMES,
        *VIEW_RG,
        *VIEW_PAYMENTS,
        "exclusions.view_registercheck",
        "exclusions.check_now",
        # What rules said about the player (markers, messages), to answer them.
        "rules.view_riskmarker",
        "rules.view_message",
    ],
    "Payments reviewer": [
        *VIEW_TENANTS,
        "players.view_player",
        *VIEW_LEDGER,
        *VIEW_PAYMENTS,
        *REVIEW_PAYMENTS,
        "payments.process_payouts",
        "payments.record_manual_deposit",
        "payments.view_reviewpolicy",
    ],
    "Brand admin": [
        *VIEW_DASHBOARDS,
        *VIEW_TENANTS,
        "tenants.change_brand",
        "games.view_game",
        "games.view_hub88integration",
        "games.change_hub88integration",
        "payments.view_paymentiqintegration",
        "payments.change_paymentiqintegration",
        *CONFIGURE_EXCLUSIONS,
        *EXPORT_MARKETING,
        "players.view_player",
        "auditlog.view_logentry",
        "compliance.view_brandrulesversion",
        "compliance.add_brandrulesversion",
        "payments.view_reviewpolicy",
        "payments.add_reviewpolicy",
        "payments.change_reviewpolicy",
        *VIEW_RETENTION,
        *CONFIGURE_RETENTION,
        *MANAGE_BRAND_IP_RULES,
    ],
    "Operator admin": [
        *VIEW_DASHBOARDS,
        *VIEW_TENANTS,
        "tenants.add_brand",
        "tenants.change_brand",
        "tenants.view_staffuser",
        "tenants.add_staffuser",
        "tenants.change_staffuser",
        "tenants.manage_staff_access",
        # A staff member who lost their authenticator app enrols again after a reset.
        "security.reset_staff_otp",
        "players.view_player",
        "auditlog.view_logentry",
        "wallet.view_houseaccount",
        "wallet.view_reconciliationrun",
        "wallet.view_reconciliationmismatch",
        "games.view_game",
        "games.view_hub88integration",
        "games.change_hub88integration",
        "payments.view_paymentiqintegration",
        "payments.change_paymentiqintegration",
        *CONFIGURE_EXCLUSIONS,
        "compliance.view_brandrulesversion",
        "compliance.add_brandrulesversion",
        "payments.view_payment",
        "payments.view_reviewpolicy",
        "payments.add_reviewpolicy",
        "payments.change_reviewpolicy",
        *MANAGE_BRAND_IP_RULES,
    ],
    # Read-only everything in their brands, personal data included (auditors check it).
    "Auditor": [
        *VIEW_DASHBOARDS,
        *VIEW_TENANTS,
        "tenants.view_staffuser",
        "players.view_player",
        "players.view_personal_data",
        "timeline.view_timelineentry",
        "core.view_event",
        "core.view_eventdelivery",
        "auditlog.view_logentry",
        # The access audit: logins, personal-data reads, exports, permission changes.
        "security.view_auditrecord",
        *VIEW_LEDGER,
        "wallet.view_houseaccount",
        "wallet.view_adjustmentrequest",
        "wallet.view_reconciliationrun",
        "wallet.view_reconciliationmismatch",
        *VIEW_GAMES,
        "games.view_hub88integration",
        "payments.view_paymentiqintegration",
        *VIEW_RG,
        *VIEW_EXCLUSIONS,
        *VIEW_MARKETING_EXPORTS,
        "compliance.view_brandrulesversion",
        *VIEW_PAYMENTS,
        "payments.view_reviewpolicy",
        *VIEW_RULES,
        *VIEW_RETENTION,
        "security.view_iprule",
    ],
}

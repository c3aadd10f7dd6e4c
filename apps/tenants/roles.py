"""Staff roles: named groups of action-level permissions.

A role says what a person may do; brand and operator grants (selectors.py) say where.
`manage.py sync_roles` makes the groups match this table exactly, so a permission taken
out here is taken away from everyone holding the role.
"""

VIEW_TENANTS = ["tenants.view_operator", "tenants.view_brand"]
VIEW_LEDGER = ["wallet.view_wallet", "wallet.view_ledgertransaction", "wallet.view_ledgerentry"]
VIEW_GAMES = ["games.view_game", "games.view_gamesession", "games.view_round"]
VIEW_RG = [
    "responsible_gaming.view_limit",
    "responsible_gaming.view_limitchange",
    "responsible_gaming.view_exclusion",
    "responsible_gaming.view_refusal",
]

ROLES: dict[str, list[str]] = {
    "Compliance officer": [
        *VIEW_TENANTS,
        "players.view_player",
        "players.view_personal_data",
        "players.change_player_status",
        "players.export_players",
        "core.view_event",
        "auditlog.view_logentry",
        *VIEW_LEDGER,
        "wallet.view_adjustmentrequest",
        "wallet.approve_adjustment",
        "wallet.view_reconciliationmismatch",
        *VIEW_GAMES,
        *VIEW_RG,
        "responsible_gaming.set_limits",
        "compliance.view_brandrulesversion",
    ],
    "Support agent": [
        *VIEW_TENANTS,
        "players.view_player",
        "players.view_personal_data",
        "players.change_player",
        *VIEW_LEDGER,
        "wallet.view_adjustmentrequest",
        "wallet.adjust_balance",
        *VIEW_GAMES,
        *VIEW_RG,
    ],
    "Payments reviewer": [
        *VIEW_TENANTS,
        "players.view_player",
        *VIEW_LEDGER,
    ],
    "Brand admin": [
        *VIEW_TENANTS,
        "tenants.change_brand",
        "games.view_game",
        "games.view_hub88integration",
        "games.change_hub88integration",
        "players.view_player",
        "auditlog.view_logentry",
        "compliance.view_brandrulesversion",
        "compliance.add_brandrulesversion",
    ],
    "Operator admin": [
        *VIEW_TENANTS,
        "tenants.add_brand",
        "tenants.change_brand",
        "tenants.view_staffuser",
        "tenants.add_staffuser",
        "tenants.change_staffuser",
        "tenants.manage_staff_access",
        "players.view_player",
        "auditlog.view_logentry",
        "wallet.view_houseaccount",
        "wallet.view_reconciliationrun",
        "wallet.view_reconciliationmismatch",
        "games.view_game",
        "games.view_hub88integration",
        "games.change_hub88integration",
        "compliance.view_brandrulesversion",
        "compliance.add_brandrulesversion",
    ],
    # Read-only everything in their brands, personal data included (auditors check it).
    "Auditor": [
        *VIEW_TENANTS,
        "tenants.view_staffuser",
        "players.view_player",
        "players.view_personal_data",
        "core.view_event",
        "core.view_eventdelivery",
        "auditlog.view_logentry",
        *VIEW_LEDGER,
        "wallet.view_houseaccount",
        "wallet.view_adjustmentrequest",
        "wallet.view_reconciliationrun",
        "wallet.view_reconciliationmismatch",
        *VIEW_GAMES,
        "games.view_hub88integration",
        *VIEW_RG,
        "compliance.view_brandrulesversion",
    ],
}

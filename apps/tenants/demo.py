"""Demo operators, brands and one staff user per role (see README for the logins)."""

from apps.core.models import Currency
from apps.tenants.models import Brand, Operator, StaffUser
from apps.tenants.services import operator_access_grant, roles_sync, staff_brands_set

DEMO_STAFF_PASSWORD = "demo-pass-2026"  # noqa: S105 - public demo login, printed by make run

OPERATORS = [
    ("northstar", "Northstar Gaming", "Northstar Gaming Ltd", "C 81234"),
    ("nordicplay", "Nordic Play", "Nordic Play AB", "559123-4567"),
]
BRANDS = [
    # code, name, operator, jurisdiction, currencies (default first)
    ("northstar-uk", "Northstar Casino UK", "northstar", "GB", ["GBP"]),
    ("northstar-mt", "Northstar Casino", "northstar", "MT", ["EUR", "USD", "BTC"]),
    ("nordicplay-se", "Nordic Play", "nordicplay", "SE", ["SEK", "EUR"]),
]
# username, role, operator, brands (None: operator-wide access)
STAFF = [
    ("compliance", "Compliance officer", "northstar", ["northstar-uk", "northstar-mt"]),
    ("support", "Support agent", "northstar", ["northstar-uk"]),
    ("payments", "Payments reviewer", "northstar", ["northstar-uk", "northstar-mt"]),
    ("brandadmin", "Brand admin", "nordicplay", ["nordicplay-se"]),
    ("operatoradmin", "Operator admin", "northstar", None),
    ("auditor", "Auditor", "northstar", None),
]


def seed(context: dict) -> None:
    roles_sync()
    admin, created = StaffUser.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"}
    )
    if created:
        admin.set_password(DEMO_STAFF_PASSWORD)
        admin.save()

    operators = {}
    for code, name, legal_name, number in OPERATORS:
        operators[code], _ = Operator.objects.get_or_create(
            code=code, defaults={"name": name, "legal_name": legal_name, "registration_number": number}
        )
    brands = {}
    for code, name, operator, jurisdiction, currencies in BRANDS:
        brand, created = Brand.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "operator": operators[operator],
                "jurisdiction": jurisdiction,
                "default_currency_id": currencies[0],
            },
        )
        if created:
            brand.currencies.set(Currency.objects.filter(code__in=currencies))
        brands[code] = brand

    from django.contrib.auth.models import Group

    staff = {}
    for username, role, operator, brand_codes in STAFF:
        user, created = StaffUser.objects.get_or_create(
            username=username,
            defaults={
                "is_staff": True,
                "operator": operators[operator],
                "email": f"{username}@example.com",
                "first_name": username.capitalize(),
            },
        )
        if created:
            user.set_password(DEMO_STAFF_PASSWORD)
            user.save()
            user.groups.add(Group.objects.get(name=role))
            if brand_codes is None:
                operator_access_grant(actor=admin, staff=user, operator=operators[operator])
            else:
                staff_brands_set(actor=admin, staff=user, brands=[brands[c] for c in brand_codes])
        staff[username] = user

    context.update(operators=operators, brands=brands, staff=staff, admin=admin)
    context.setdefault("logins", []).extend(
        [
            f"Demo staff logins at http://127.0.0.1:8000/admin/ (password for all: {DEMO_STAFF_PASSWORD}):",
            "  admin (superuser, every brand)",
            *(
                f"  {username:<14} {role} ({', '.join(codes) if codes else 'all ' + op + ' brands'})"
                for username, role, op, codes in STAFF
            ),
            "  A second factor is required: the first sign-in sets up an authenticator app "
            "(QR code), later ones ask for its code.",
        ]
    )

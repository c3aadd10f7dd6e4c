"""The access audit (issue 9): every login (succeeded, failed, logout), every read of
personal data, every export and every permission change, with actor, client address and
correlation id. django-auditlog keeps the model changes beside it (LogEntry, which carries
the same correlation id: settings.AUDITLOG_CID_GETTER).

How records are written:
- logins: Django's auth signals, for the admin and anything else that authenticates a staff
  user (user_login_failed with credentials["stage"] == "otp" is a wrong second factor); the
  player API's login and logout call login_record/logout_record from players.services;
- reads of personal data: the doors that show it unmasked call personal_data_read_record
  once per request (and brand), naming the players and the fields, never the values;
- exports: the export services call export_record inside their transaction;
- permission changes: signals on group membership, user and group permissions, the
  is_staff/is_superuser/is_active flags and django-guardian's object permissions (brand and
  operator grants), in the transaction of the change.
A record is written in the caller's transaction when there is one. Nothing about the
request is required: no address, no correlation id or no signed-in user only leaves a field
empty. A failed login is written outside any transaction (no view wraps authentication in
one: ATOMIC_REQUESTS is off), so the refusal that follows does not roll it back.

The client address is the IP lists' (ipfilter.client_ip: REMOTE_ADDR, or behind
TRUSTED_PROXIES the nearest untrusted X-Forwarded-For hop). AuditContextMiddleware (in
place of auditlog's middleware) keeps the request for code that has none at hand and gives
LogEntry the same address (auditlog's own trusts the first X-Forwarded-For hop, which any
client can write).

Retention: audit_records_purge removes records older than AUDIT_RETENTION_DAYS, in
batches, through the one sanctioned path (a transaction-local flag the trigger checks), and
records that it did.
"""

import logging
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import datetime, timedelta

from auditlog.context import auditlog_value
from auditlog.middleware import AuditlogMiddleware
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from apps.core.actors import SYSTEM_USERNAME, Actor, actor_label
from apps.core.correlation import correlation_id_get
from apps.core.request_cache import request_memo
from apps.security import ipfilter
from apps.security.models import AuditRecord, purge_in_progress

logger = logging.getLogger(__name__)

Kind = AuditRecord.Kind
ActorType = AuditRecord.ActorType

# A list page names at most this many players in one record (admin pages show 100).
MAX_PLAYER_IDS = 1000

_current_request: ContextVar = ContextVar("pam_audit_request", default=None)


class AuditContextMiddleware(AuditlogMiddleware):
    """auditlog's middleware, with the client address of the IP lists, and the request kept
    for the audit records written while it is served."""

    @staticmethod
    def _get_remote_addr(request):
        address = ipfilter.client_ip(request)
        return str(address) if address is not None else None

    def __call__(self, request):
        token = _current_request.set(request)
        try:
            return super().__call__(request)
        finally:
            _current_request.reset(token)


# --- who, from where ---------------------------------------------------------------------


def _request_ip(request) -> str | None:
    if request is None:
        return None
    try:
        address = ipfilter.client_ip(request)
    except Exception:  # noqa: BLE001 - an odd request must never stop the audited operation
        logger.warning("audit: client address not resolved", exc_info=True)
        return None
    return str(address) if address is not None else None


def _context_actor(request):
    """The actor of the work in progress: audit_as / auditlog's context, else the request's
    signed-in user, else nobody (a system record)."""
    context = auditlog_value.get(None)
    if context and context.get("actor") is not None:
        return context["actor"]
    user = getattr(request, "user", None) if request is not None else None
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    return None


def _actor_fields(actor) -> dict:
    if actor is None:
        return {"actor": None, "actor_type": ActorType.SYSTEM, "actor_label": ""}
    if isinstance(actor, AbstractBaseUser):
        if actor.get_username() == SYSTEM_USERNAME:
            return {"actor": actor, "actor_type": ActorType.SYSTEM, "actor_label": SYSTEM_USERNAME}
        return {"actor": actor, "actor_type": ActorType.STAFF, "actor_label": actor.get_username()[:150]}
    if isinstance(actor, Actor):
        return {"actor": None, "actor_type": ActorType.SYSTEM, "actor_label": str(actor)[:150]}
    try:
        label = actor_label(actor)
    except TypeError:
        return {"actor": None, "actor_type": ActorType.ANONYMOUS, "actor_label": ""}
    kind = ActorType.PLAYER if label.startswith("player:") else ActorType.SYSTEM
    return {"actor": None, "actor_type": kind, "actor_label": label[:150]}


def _operator_id(brand_id: int | None) -> int | None:
    """A brand's operator (once per request: a list page writes a record per brand)."""
    if brand_id is None:
        return None
    from apps.tenants.models import Brand

    return request_memo(
        ("audit_brand_operator", brand_id),
        lambda: Brand.objects.filter(pk=brand_id).values_list("operator_id", flat=True).first(),
    )


def audit_record_write(
    *,
    kind: str,
    request=None,
    actor=None,
    actor_type: str | None = None,
    label: str | None = None,
    ip: str | None = None,
    brand_id: int | None = None,
    operator_id: int | None = None,
    player_id: int | None = None,
    object_type: str = "",
    object_id="",
    detail: dict | None = None,
    actor_from_context: bool = True,
) -> AuditRecord:
    """Write one audit record in the caller's transaction (if any). `request` defaults to
    the request being served; `actor` to the context's (audit_as, the signed-in user) unless
    actor_from_context is off. Missing pieces (no request, no address, no correlation id)
    leave fields empty."""
    request = request if request is not None else _current_request.get()
    if actor is None and actor_from_context:
        actor = _context_actor(request)
    fields = _actor_fields(actor)
    if actor_type is not None:
        fields["actor_type"] = actor_type
    if label is not None:
        fields["actor_label"] = label[:150]
    if fields["actor"] is not None and operator_id is None and brand_id is None:
        operator_id = getattr(fields["actor"], "operator_id", None)
    if operator_id is None:
        operator_id = _operator_id(brand_id)
    if player_id is None and fields["actor_type"] == ActorType.PLAYER:
        player_id = getattr(actor, "pk", None)
    cid = correlation_id_get() or (getattr(request, "correlation_id", "") if request is not None else "")
    return AuditRecord.objects.create(
        kind=kind,
        **fields,
        ip=ip if ip is not None else _request_ip(request),
        correlation_id=(cid or "")[:64],
        operator_id=operator_id,
        brand_id=brand_id,
        player_id=player_id,
        object_type=object_type[:100],
        object_id=str(object_id or "")[:64],
        detail=detail or {},
    )


# --- logins ------------------------------------------------------------------------------


def login_record(
    *,
    succeeded: bool,
    actor=None,
    ip: str | None = None,
    brand_id: int | None = None,
    stage: str = "password",
    reason: str = "",
    door: str = "",
    request=None,
) -> AuditRecord:
    """A login, or a refused one (actor None: an unknown login; nothing of what was typed
    is kept, it may be an e-mail address or a mistyped password)."""
    detail = {"stage": stage}
    if door:
        detail["door"] = door
    if reason:
        detail["reason"] = reason
    return audit_record_write(
        kind=Kind.LOGIN_SUCCEEDED if succeeded else Kind.LOGIN_FAILED,
        request=request,
        actor=actor,
        actor_type=None if actor is not None else ActorType.ANONYMOUS,
        ip=ip,
        brand_id=brand_id,
        detail=detail,
        # A refused login names who tried, never whoever the session already belongs to.
        actor_from_context=False,
    )


def logout_record(
    *, actor, ip: str | None = None, brand_id: int | None = None, door: str = ""
) -> AuditRecord:
    return audit_record_write(
        kind=Kind.LOGOUT, actor=actor, ip=ip, brand_id=brand_id, detail={"door": door} if door else {}
    )


def _door(request) -> str:
    path = getattr(request, "path", "") or ""
    return "admin" if path.startswith("/admin/") else ("api" if path.startswith("/api/") else "")


def _on_logged_in(sender, request=None, user=None, **kwargs):
    if user is None:
        return
    login_record(succeeded=True, actor=user, request=request, door=_door(request))


def _on_login_failed(sender, credentials=None, request=None, **kwargs):
    """Django passes the credentials with the password already hidden; of them only the
    stage and whether the username names a staff account are kept (a typed username that
    names nobody may be someone's password)."""
    from django.contrib.auth import get_user_model

    credentials = credentials or {}
    user_model = get_user_model()
    username = credentials.get(user_model.USERNAME_FIELD) or credentials.get("username")
    user = None
    if isinstance(username, str) and username:
        user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username[:150]}).first()
    stage = credentials.get("stage") if isinstance(credentials.get("stage"), str) else "password"
    login_record(
        succeeded=False,
        actor=user,
        request=request,
        stage=stage[:32],
        reason="" if user is not None else "unknown_username",
        door=_door(request),
    )


def _on_logged_out(sender, request=None, user=None, **kwargs):
    if user is None:
        return
    audit_record_write(kind=Kind.LOGOUT, request=request, actor=user, detail={"door": _door(request)})


# --- reads of personal data and exports --------------------------------------------------


def personal_data_read_record(
    *,
    players: Iterable,
    fields: Iterable[str],
    source: str,
    request=None,
    actor=None,
    object_type: str = "players.player",
    object_id=None,
) -> list[AuditRecord]:
    """Staff were shown these players' personal data (unmasked): one record per brand of
    the players shown (so a brand's auditors see it), naming the players and fields.

    `players`: Player objects, or (player_id, brand_id) pairs (player_id None: a person who
    is no player yet, e.g. a registration's register check). Nothing is written for none.
    The object is the player, unless another object showed the data (object_type/_id).
    """
    by_brand: dict[int, list[int]] = {}
    for player in players:
        player_id, brand_id = (player.pk, player.brand_id) if hasattr(player, "pk") else player
        by_brand.setdefault(brand_id, [])
        if player_id is not None and player_id not in by_brand[brand_id]:
            by_brand[brand_id].append(player_id)
    fields = sorted(set(fields))
    written = []
    for brand_id, ids in sorted(by_brand.items()):
        detail = {"source": source, "fields": fields, "players": len(ids)}
        if len(ids) > 1:
            detail["player_ids"] = ids[:MAX_PLAYER_IDS]
        written.append(
            audit_record_write(
                kind=Kind.PERSONAL_DATA_READ,
                request=request,
                actor=actor,
                brand_id=brand_id,
                player_id=ids[0] if len(ids) == 1 else None,
                object_type=object_type,
                object_id=object_id if object_id is not None else (ids[0] if len(ids) == 1 else ""),
                detail=detail,
            )
        )
    return written


def export_record(
    *,
    actor,
    source: str,
    brand_id: int | None,
    rows: int,
    fields: Iterable[str],
    personal_data: bool,
    object_type: str = "",
    object_id="",
    extra: dict | None = None,
) -> AuditRecord:
    """An export (a file of records left the system): what, how many rows, which columns,
    and whether personal data was in it. Called inside the export's transaction."""
    return audit_record_write(
        kind=Kind.EXPORT,
        actor=actor,
        brand_id=brand_id,
        object_type=object_type,
        object_id=object_id,
        detail={
            "source": source,
            "rows": rows,
            "fields": list(fields),
            "personal_data": personal_data,
            **(extra or {}),
        },
    )


# --- permission changes ------------------------------------------------------------------

STAFF_FLAGS = ("is_active", "is_staff", "is_superuser")


def _permission_names(pks) -> list[str]:
    from django.contrib.auth.models import Permission

    return sorted(
        f"{app}.{codename}"
        for app, codename in Permission.objects.filter(pk__in=list(pks)).values_list(
            "content_type__app_label", "codename"
        )
    )


def _group_names(pks) -> list[str]:
    from django.contrib.auth.models import Group

    return sorted(Group.objects.filter(pk__in=list(pks)).values_list("name", flat=True))


def _usernames(pks) -> list[str]:
    from django.contrib.auth import get_user_model

    return sorted(
        get_user_model()._default_manager.filter(pk__in=list(pks)).values_list("username", flat=True)
    )


def _permission_changed(
    *, object_type: str, object_id, detail: dict, operator_id=None, brand_id=None
) -> None:
    audit_record_write(
        kind=Kind.PERMISSION_CHANGED,
        object_type=object_type,
        object_id=object_id,
        operator_id=operator_id,
        brand_id=brand_id,
        detail=detail,
    )


def _m2m_change(what: str, instance, action: str, pk_set, *, reverse: bool, names_of) -> None:
    """One record per m2m change; `what` is "groups", "user_permissions" or "permissions"."""
    if action == "pre_clear":
        # post_clear is told nothing of what went: note it now.
        instance._audit_cleared = set(
            getattr(instance, what).values_list("pk", flat=True) if not reverse else []
        )
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if action == "post_clear":
        pk_set = getattr(instance, "_audit_cleared", set())
    if not pk_set:
        return
    change = "added" if action == "post_add" else "removed"
    from django.contrib.auth.models import Group

    if isinstance(instance, Group):
        if what == "groups":  # group.user_set.add(user, ...): members joined or left
            detail = {"change": f"members_{change}", "group": instance.name, "users": _usernames(pk_set)}
        else:
            detail = {
                "change": f"permissions_{change}",
                "group": instance.name,
                "permissions": names_of(pk_set),
            }
        _permission_changed(object_type="auth.group", object_id=instance.pk, detail=detail)
        return
    if reverse:  # permission.user_set.add(...): users given or refused one permission
        detail = {
            "change": f"user_permissions_{change}",
            "permission": str(instance),
            "users": _usernames(pk_set),
        }
        _permission_changed(object_type="auth.permission", object_id=instance.pk, detail=detail)
        return
    detail = {"change": f"{what}_{change}", "user": instance.get_username(), what: names_of(pk_set)}
    _permission_changed(
        object_type=f"{instance._meta.app_label}.{instance._meta.model_name}",
        object_id=instance.pk,
        detail=detail,
        operator_id=getattr(instance, "operator_id", None),
    )


def _on_groups_changed(sender, instance, action, reverse, pk_set, **kwargs):
    _m2m_change("groups", instance, action, pk_set, reverse=reverse, names_of=_group_names)


def _on_user_permissions_changed(sender, instance, action, reverse, pk_set, **kwargs):
    _m2m_change("user_permissions", instance, action, pk_set, reverse=reverse, names_of=_permission_names)


def _on_group_permissions_changed(sender, instance, action, reverse, pk_set, **kwargs):
    from django.contrib.auth.models import Group

    if reverse and not isinstance(instance, Group):  # permission.group_set.add(group, ...)
        if action in ("post_add", "post_remove") and pk_set:
            change = "added" if action == "post_add" else "removed"
            _permission_changed(
                object_type="auth.permission",
                object_id=instance.pk,
                detail={
                    "change": f"groups_{change}",
                    "permission": str(instance),
                    "groups": _group_names(pk_set),
                },
            )
        return
    _m2m_change("permissions", instance, action, pk_set, reverse=reverse, names_of=_permission_names)


def _on_staff_pre_save(sender, instance, update_fields=None, raw=False, **kwargs):
    if raw or instance.pk is None:
        return
    if update_fields is not None and not set(update_fields) & set(STAFF_FLAGS):
        return  # e.g. last_login on every sign-in: no flag can have moved
    before = sender._default_manager.filter(pk=instance.pk).values(*STAFF_FLAGS).first()
    instance._audit_flags_before = before


def _on_staff_post_save(sender, instance, created=False, raw=False, **kwargs):
    if raw:
        return
    before = getattr(instance, "_audit_flags_before", None)
    instance._audit_flags_before = None
    after = {flag: getattr(instance, flag) for flag in STAFF_FLAGS}
    if created:
        changes = {flag: [None, value] for flag, value in after.items()}
        change = "account_created"
    elif before is not None:
        changes = {flag: [before[flag], after[flag]] for flag in STAFF_FLAGS if before[flag] != after[flag]}
        change = "flags_changed"
    else:
        return
    if not changes:
        return
    _permission_changed(
        object_type=f"{instance._meta.app_label}.{instance._meta.model_name}",
        object_id=instance.pk,
        detail={"change": change, "user": instance.get_username(), "flags": changes},
        operator_id=getattr(instance, "operator_id", None),
    )


def _object_permission_changed(instance, *, granted: bool) -> None:
    """A django-guardian grant or revocation (access to a brand or an operator, ...)."""
    content_type = instance.content_type
    target = f"{content_type.app_label}.{content_type.model}"
    brand_id = operator_id = None
    object_pk = str(instance.object_pk)
    numeric = object_pk.isascii() and object_pk.isdigit()  # "²".isdigit() is true too
    if target == "tenants.brand" and numeric:
        brand_id = int(object_pk)
    elif target == "tenants.operator" and numeric:
        operator_id = int(object_pk)
    detail = {
        "change": "object_permission_granted" if granted else "object_permission_revoked",
        "permission": f"{instance.permission.content_type.app_label}.{instance.permission.codename}",
    }
    if hasattr(instance, "user_id"):
        detail["user"] = instance.user.get_username()
        if operator_id is None and brand_id is None:
            operator_id = instance.user.operator_id
    else:
        detail["group"] = instance.group.name
    _permission_changed(
        object_type=target,
        object_id=instance.object_pk,
        detail=detail,
        operator_id=operator_id,
        brand_id=brand_id,
    )


def _on_object_permission_saved(sender, instance, created=False, raw=False, **kwargs):
    if created and not raw:
        _object_permission_changed(instance, granted=True)


def _on_object_permission_deleted(sender, instance, **kwargs):
    _object_permission_changed(instance, granted=False)


def signals_connect() -> None:
    """Connected once, from SecurityConfig.ready()."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
    from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
    from guardian.models import GroupObjectPermission, UserObjectPermission

    user_model = get_user_model()
    user_logged_in.connect(_on_logged_in, dispatch_uid="security-audit-logged-in")
    user_login_failed.connect(_on_login_failed, dispatch_uid="security-audit-login-failed")
    user_logged_out.connect(_on_logged_out, dispatch_uid="security-audit-logged-out")
    m2m_changed.connect(
        _on_groups_changed, sender=user_model.groups.through, dispatch_uid="security-audit-groups"
    )
    m2m_changed.connect(
        _on_user_permissions_changed,
        sender=user_model.user_permissions.through,
        dispatch_uid="security-audit-user-permissions",
    )
    m2m_changed.connect(
        _on_group_permissions_changed,
        sender=Group.permissions.through,
        dispatch_uid="security-audit-group-perms",
    )
    pre_save.connect(_on_staff_pre_save, sender=user_model, dispatch_uid="security-audit-staff-pre")
    post_save.connect(_on_staff_post_save, sender=user_model, dispatch_uid="security-audit-staff-post")
    for model in (UserObjectPermission, GroupObjectPermission):
        post_save.connect(
            _on_object_permission_saved, sender=model, dispatch_uid=f"security-audit-{model.__name__}-save"
        )
        post_delete.connect(
            _on_object_permission_deleted,
            sender=model,
            dispatch_uid=f"security-audit-{model.__name__}-delete",
        )


# --- retention ---------------------------------------------------------------------------

PURGE_FLAG = "pam.audit_purge"


def _purge_flag_set(on: bool) -> None:
    """Tell the trigger (migration 0003) that this transaction is the retention purge. The
    setting is transaction-local (set_config(..., true) is SET LOCAL), and is also switched
    off at once after the batch: called inside an outer transaction, the purge's atomic
    blocks are savepoints, and the flag would otherwise outlive them."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [PURGE_FLAG, "on" if on else ""])


def audit_records_purge(*, now: datetime | None = None, batch_size: int | None = None) -> AuditRecord:
    """Delete access-audit records older than AUDIT_RETENTION_DAYS, oldest first, each batch
    its own transaction (a large backlog never holds locks for long; a crash loses nothing
    but the rest of the run, which the next run finishes). Then record the purge (kind
    audit_purged: how many, the cutoff). Safe to run twice at once: the second finds the
    rows gone."""
    now = now or timezone.now()
    days = settings.AUDIT_RETENTION_DAYS
    cutoff = now - timedelta(days=days)
    batch_size = batch_size or settings.AUDIT_PURGE_BATCH_SIZE
    deleted = batches = 0
    while True:
        with transaction.atomic():
            ids = list(
                AuditRecord.objects.filter(occurred_at__lt=cutoff)
                .order_by("occurred_at", "id")
                .values_list("id", flat=True)[:batch_size]
            )
            if not ids:
                break
            _purge_flag_set(True)
            token = purge_in_progress.set(True)
            try:
                count, _ = AuditRecord.objects.filter(pk__in=ids).delete()
            finally:
                purge_in_progress.reset(token)
                _purge_flag_set(False)
        deleted += count
        batches += 1
    return audit_record_write(
        kind=Kind.AUDIT_PURGED,
        actor=Actor("system", "audit-retention"),
        detail={
            "deleted": deleted,
            "batches": batches,
            "cutoff": cutoff.isoformat(),
            "retention_days": days,
        },
    )

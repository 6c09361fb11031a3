"""Who is who: role profiles (as the signed bundle says), the org chart, notifications."""

from __future__ import annotations

from gateway.controller.call import ControlCall
from gateway.controller.models import NotificationCreate, NotificationList
from gateway.controller.operation import Operation, Reply
from gateway.controller.orgchart import OrgChartError, parse_org_chart
from gateway.controller.service import Service
from gateway.controller.views import notification_view, page
from gateway.db.controller import Notification
from gateway.errors import BadRequest, NotFound
from gateway.trail import new_id


async def _profile(service: Service, call: ControlCall) -> None:
    role = call.path_params["role"]
    call.resource = {"kind": "profile", "role": role}
    call.audit(role=role)


async def _get_profile(service: Service, call: ControlCall) -> Reply:
    role = call.path_params["role"]
    bundle = call.bundle
    assert bundle is not None
    profile = bundle.profiles.get(role)
    if profile is None:  # only an admin gets this far for a role the bundle does not have
        raise NotFound(f"no profile for role {role} in bundle {bundle.revision}")
    body = profile.model_dump(mode="json", by_alias=True)
    return Reply(200, {**body, "bundle_revision": bundle.revision})


async def _org(service: Service, call: ControlCall) -> None:
    call.resource = {"kind": "org_chart"}


async def _import_org(service: Service, call: ControlCall) -> Reply:
    tenant = call.principal.tenant
    try:
        people = parse_org_chart(call.request, tenant)
    except OrgChartError as exc:
        problems = [{"line": p.line, "field": p.field, "message": p.message} for p in exc.problems[:100]]
        raise BadRequest(
            str(exc), reason="invalid_org_chart", details={"field": "body", "problems": problems}
        ) from exc
    count = await service.use(lambda s: s.replace_people(tenant, people))
    call.audit(people=count)
    return Reply(200, {"tenant": tenant, "imported": count})


async def _outgoing(service: Service, call: ControlCall) -> None:
    request: NotificationCreate = call.request
    call.resource = {"kind": "notification", "to_role": request.target_role, "priority": request.priority}


async def _notify(service: Service, call: ControlCall) -> Reply:
    request: NotificationCreate = call.request
    note = Notification(
        new_id(),
        call.principal.tenant,
        call.principal.sub,
        request.target_role,
        request.message,
        request.priority,
        service.now(),
    )
    await service.use(lambda s: s.add_notification(note))
    call.audit(notification_id=note.id, target_role=note.target_role)
    return Reply(201, notification_view(note))


async def _inbox(service: Service, call: ControlCall) -> None:
    call.resource = {"kind": "notification_inbox"}


async def _notifications(service: Service, call: ControlCall) -> Reply:
    query: NotificationList = call.request
    found = await service.use(
        lambda s: s.notifications_for(call.principal.tenant, call.roles, query.after, query.limit)
    )
    return Reply(200, page([notification_view(n) for n in found], query.limit))


OPERATIONS = (
    Operation(
        "profiles.get", "GET", "/api/v1/profiles/{role}", "profile.read",
        "a role's profile from the active bundle (own roles; any role for admins)",
        _get_profile, _profile, tags=("profiles",),
    ),
    Operation(
        "org.import", "POST", "/api/v1/org/import", "org.import",
        "replace the tenant's org chart with a CSV (admins)", _import_org, _org, csv_body=True, tags=("org",),
    ),
    Operation(
        "notifications.send", "POST", "/api/v1/notifications", "notification.send", "notify a role",
        _notify, _outgoing, body=NotificationCreate, idempotent=True, success=201, tags=("notifications",),
    ),
    Operation(
        "notifications.list", "GET", "/api/v1/notifications", "notification.read",
        "notifications for the caller's roles, oldest first", _notifications, _inbox,
        query=NotificationList, tags=("notifications",),
    ),
)  # fmt: skip

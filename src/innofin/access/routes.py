"""Sign-in, the caller's own account, users (admin), consents and referrals."""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from innofin.access import grants
from innofin.access import service as access
from innofin.access.passwords import hash_password
from innofin.access.schemas import (
    ConsentIn,
    ConsentOut,
    LoginIn,
    MeOut,
    ReferralIn,
    ReferralOut,
    TokenOut,
    UserCreate,
    UserOut,
)
from innofin.api.deps import (
    COOKIE,
    RowId,
    WriteHeaders,
    allow,
    api_state,
    ok,
    public,
    reading,
    write_headers,
)
from innofin.api.errors import ERROR_RESPONSES, ErrorBody
from innofin.api.pages import Page, PageRequest, fetch_page, list_page, page_request, sort_query
from innofin.api.writes import WriteCall, write
from innofin.kernel.principal import Principal
from innofin.kernel.settings import Settings

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
Write = Depends(write_headers)


@router.post(
    "/auth/login",
    response_model=TokenOut,
    tags=["auth"],
    summary="Sign in: a bearer token and an HttpOnly session cookie",
    responses={429: {"model": ErrorBody, "description": "too many failed sign-ins"}},
)
def login(
    request: Request, body: LoginIn, response: Response, _: None = public("auth:login")
) -> TokenOut:
    state = api_state(request)
    client = request.client.host if request.client else "unknown"
    result = access.login(
        state.engine, state.settings, body.username, body.password, client, state.clock()
    )
    response.set_cookie(
        COOKIE,
        result.token,
        max_age=state.settings.token_ttl_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=secure_cookie(request, state.settings),
    )
    return TokenOut(access_token=result.token, expires_at=result.expires_at)


def secure_cookie(request: Request, settings: Settings) -> bool:
    """The session cookie is Secure (sent over HTTPS only) unless the server answers on a
    loopback address, where a developer's http://127.0.0.1 must keep working;
    INNOFIN_COOKIE_SECURE decides instead when set."""
    if settings.cookie_secure is not None:
        return settings.cookie_secure
    server = request.scope.get("server")
    host = str(server[0]) if server else ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


@router.post(
    "/auth/logout", status_code=204, tags=["auth"], summary="Sign out: the token stops working"
)
def logout(
    request: Request, w: WriteHeaders = Write, p: Principal = allow("auth:logout")
) -> Response:
    response = write(
        request, p, w, lambda c: access.end_session(c.session, p, c.now), status_code=204
    )
    response.delete_cookie(COOKIE)
    return response


@router.get("/auth/me", response_model=MeOut, tags=["auth"], summary="Who am I")
def me(p: Principal = allow("me:read")) -> MeOut:
    return MeOut(
        user_id=p.user_id,
        username=p.username,
        roles=sorted(p.roles),
        organisation_id=p.organisation_id,
        org_kind=p.org_kind,
        zone_id=p.zone_id,
        enterprise_id=p.enterprise_id,
        institution_ids=sorted(p.institution_ids),
        province=p.province,
    )


@router.get("/users", response_model=Page[UserOut], tags=["users"], summary="List users")
def list_users(
    request: Request,
    page: PageRequest = Depends(page_request),
    sort: str | None = sort_query(*access.USER_SORTS),
    p: Principal = allow("user:read"),
) -> Response:
    with reading(request) as s:
        rows, total = fetch_page(s, access.users_query(), page, sort, access.USER_SORTS)
        roles = access.roles_of(s, [u.id for u in rows])
        items = [UserOut.model_validate({**_user(u), "roles": roles.get(u.id, [])}) for u in rows]
    return ok(Page(items=items, total=total, limit=page.limit, offset=page.offset))


def _user(u: Any) -> dict[str, object]:
    return {
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "organisation_id": u.organisation_id,
        "is_active": u.is_active,
    }


@router.post(
    "/users", status_code=201, response_model=UserOut, tags=["users"], summary="Create a user"
)
def create_user(
    request: Request, body: UserCreate, w: WriteHeaders = Write, p: Principal = allow("user:create")
) -> Response:
    # hashed before the write transaction: Argon2 must not hold the database's write lock
    hashed = hash_password(body.password, body.username.strip())

    def create(c: WriteCall) -> UserOut:
        user = access.create_user(
            c.session,
            username=body.username,
            password=None,
            password_hash=hashed,
            roles=body.roles,
            org=access.OrgRef(body.org_kind, body.org_key),
            display_name=body.display_name,
        )
        return UserOut.model_validate({**_user(user), "roles": sorted(r.value for r in body.roles)})

    payload = body.model_dump(mode="json", exclude={"password"})
    return write(request, p, w, create, status_code=201, payload=payload)


@router.get("/consents", response_model=Page[ConsentOut], tags=["consent"], summary="Consents")
def list_consents(
    request: Request,
    page: PageRequest = Depends(page_request),
    sort: str | None = sort_query(*grants.CONSENT_SORTS),
    active: bool = Query(False, description="Only consents in force."),
    p: Principal = allow("consent:read"),
) -> Response:
    stmt = grants.consents_query(p, active)
    return list_page(request, stmt, page, sort, grants.CONSENT_SORTS, ConsentOut)


@router.post(
    "/consents",
    status_code=201,
    response_model=ConsentOut,
    tags=["consent"],
    summary="Grant an institution access to the caller's indicator data",
)
def grant_consent(
    request: Request,
    body: ConsentIn,
    w: WriteHeaders = Write,
    p: Principal = allow("consent:write"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: grants.grant(c.session, p, body.institution_id, c.now),
        ConsentOut,
        status_code=201,
        payload=body,
    )


@router.post(
    "/consents/{consent_id}/withdraw",
    response_model=ConsentOut,
    tags=["consent"],
    summary="Withdraw a consent",
)
def withdraw_consent(
    request: Request,
    consent_id: RowId,
    w: WriteHeaders = Write,
    p: Principal = allow("consent:write"),
) -> Response:
    return write(
        request, p, w, lambda c: grants.withdraw(c.session, p, consent_id, c.now), ConsentOut
    )


@router.get("/referrals", response_model=Page[ReferralOut], tags=["consent"], summary="Referrals")
def list_referrals(
    request: Request,
    page: PageRequest = Depends(page_request),
    sort: str | None = sort_query(*grants.REFERRAL_SORTS),
    p: Principal = allow("referral:read"),
) -> Response:
    stmt = grants.referrals_query(p)
    return list_page(request, stmt, page, sort, grants.REFERRAL_SORTS, ReferralOut)


@router.post(
    "/referrals",
    status_code=201,
    response_model=ReferralOut,
    tags=["consent"],
    summary="Recommend an enterprise to an institution",
)
def create_referral(
    request: Request,
    body: ReferralIn,
    w: WriteHeaders = Write,
    p: Principal = allow("referral:create"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: grants.refer(
            c.session, p, body.enterprise_id, body.institution_id, body.note, c.now
        ),
        ReferralOut,
        status_code=201,
        payload=body,
    )

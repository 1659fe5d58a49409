"""REST endpoints of the registry: zones (+ yearly statistics), enterprises (+ annual reports and
certifications), institutions, products, and anonymous aggregates."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from innofin.api.deps import (
    RowId,
    WriteHeaders,
    YearPath,
    allow,
    api_state,
    ok,
    reading,
    write_headers,
)
from innofin.api.errors import ERROR_RESPONSES
from innofin.api.pages import Page, PageRequest, list_page, page_request, sort_query
from innofin.api.writes import write
from innofin.kernel.codes import InstitutionKind, ProductKind, ZoneLevel
from innofin.kernel.jsontypes import IsoDate, Text20, Text40, Text60
from innofin.kernel.principal import Principal
from innofin.registry import records
from innofin.registry.schemas import (
    AggregateCell,
    CertificationCreate,
    CertificationOut,
    EnterpriseCreate,
    EnterpriseDetail,
    EnterpriseFields,
    EnterpriseOut,
    InstitutionAggregate,
    InstitutionCreate,
    InstitutionFields,
    InstitutionOut,
    ProductCreate,
    ProductFields,
    ProductOut,
    ReportFields,
    ReportOut,
    ZoneCreate,
    ZoneFields,
    ZoneOut,
    ZoneStatFields,
    ZoneStatOut,
)

router = APIRouter(prefix="/api/v1", tags=["registry"], responses=ERROR_RESPONSES)

Write = Depends(write_headers)


# --------------------------------------------------------------------------- zones


@router.get("/zones", response_model=Page[ZoneOut], summary="List zones")
def list_zones(
    request: Request,
    page: PageRequest = Depends(page_request),
    sort: str | None = sort_query(*records.ZONE_SORTS),
    province: Text40 | None = Query(None),
    level: ZoneLevel | None = Query(None),
    p: Principal = allow("zone:read"),
) -> Response:
    stmt = records.zones_query(p, province, level.value if level else None)
    return list_page(request, stmt, page, sort, records.ZONE_SORTS, ZoneOut)


@router.post("/zones", status_code=201, response_model=ZoneOut, summary="Create a zone")
def create_zone(
    request: Request, body: ZoneCreate, w: WriteHeaders = Write, p: Principal = allow("zone:create")
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.create_zone(c.session, p, body),
        ZoneOut,
        status_code=201,
        payload=body,
    )


@router.get("/zones/{zone_id}", response_model=ZoneOut, summary="One zone")
def get_zone(request: Request, zone_id: RowId, p: Principal = allow("zone:read")) -> Response:
    with reading(request) as s:
        return ok(ZoneOut.model_validate(records.zone(s, p, zone_id)))


@router.patch("/zones/{zone_id}", response_model=ZoneOut, summary="Change a zone")
def update_zone(
    request: Request,
    body: ZoneFields,
    zone_id: RowId,
    w: WriteHeaders = Write,
    p: Principal = allow("zone:update"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.update_zone(c.session, p, zone_id, body),
        ZoneOut,
        payload=body.model_dump(mode="json", exclude_unset=True),
    )


@router.get("/zones/{zone_id}/stats", response_model=list[ZoneStatOut], summary="Zone statistics")
def get_zone_stats(
    request: Request, zone_id: RowId, p: Principal = allow("zone_stat:read")
) -> Response:
    with reading(request) as s:
        return ok([ZoneStatOut.model_validate(r) for r in records.zone_stats(s, p, zone_id)])


@router.put(
    "/zones/{zone_id}/stats/{year}", response_model=ZoneStatOut, summary="Set a year's statistics"
)
def put_zone_stat(
    request: Request,
    body: ZoneStatFields,
    zone_id: RowId,
    year: YearPath,
    w: WriteHeaders = Write,
    p: Principal = allow("zone_stat:write"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.put_zone_stat(c.session, p, zone_id, year, body),
        ZoneStatOut,
        payload=body.model_dump(mode="json", exclude_unset=True),
    )


# --------------------------------------------------------------------------- enterprises


@router.get("/enterprises", response_model=Page[EnterpriseOut], summary="List enterprises")
def list_enterprises(
    request: Request,
    page: PageRequest = Depends(page_request),
    sort: str | None = sort_query(*records.ENTERPRISE_SORTS),
    zone_id: int | None = Query(None, ge=1, le=2_147_483_647),
    tech_field: Text40 | None = Query(None),
    growth_stage: Text20 | None = Query(None),
    q: Text60 | None = Query(None, description="Part of the name."),
    p: Principal = allow("enterprise:read"),
) -> Response:
    stmt = records.enterprises_query(p, zone_id, tech_field, growth_stage, q)
    return list_page(request, stmt, page, sort, records.ENTERPRISE_SORTS, EnterpriseOut)


@router.post(
    "/enterprises", status_code=201, response_model=EnterpriseOut, summary="Create an enterprise"
)
def create_enterprise(
    request: Request,
    body: EnterpriseCreate,
    w: WriteHeaders = Write,
    p: Principal = allow("enterprise:create"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.create_enterprise(c.session, p, body),
        EnterpriseOut,
        status_code=201,
        payload=body,
    )


@router.get(
    "/enterprises/{enterprise_id}", response_model=EnterpriseDetail, summary="One enterprise"
)
def get_enterprise(
    request: Request, enterprise_id: RowId, p: Principal = allow("enterprise:read")
) -> Response:
    with reading(request) as s:
        found = records.enterprise_detail(s, p, enterprise_id)
    return ok(EnterpriseDetail.model_validate(found))


@router.patch(
    "/enterprises/{enterprise_id}", response_model=EnterpriseOut, summary="Change an enterprise"
)
def update_enterprise(
    request: Request,
    body: EnterpriseFields,
    enterprise_id: RowId,
    w: WriteHeaders = Write,
    p: Principal = allow("enterprise:update"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.update_enterprise(c.session, p, enterprise_id, body),
        EnterpriseOut,
        payload=body.model_dump(mode="json", exclude_unset=True),
    )


@router.get(
    "/enterprises/{enterprise_id}/reports",
    response_model=list[ReportOut],
    summary="Annual indicator reports (institutions need the enterprise's consent)",
)
def get_reports(
    request: Request, enterprise_id: RowId, p: Principal = allow("report:read")
) -> Response:
    with reading(request) as s:
        return ok([ReportOut.model_validate(r) for r in records.reports(s, p, enterprise_id)])


@router.put(
    "/enterprises/{enterprise_id}/reports/{year}",
    response_model=ReportOut,
    summary="Create or update a year's report (the fields sent; others stay)",
)
def put_report(
    request: Request,
    body: ReportFields,
    enterprise_id: RowId,
    year: YearPath,
    w: WriteHeaders = Write,
    p: Principal = allow("report:write"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.put_report(c.session, p, enterprise_id, year, body, c.today),
        ReportOut,
        payload=body.model_dump(mode="json", exclude_unset=True),
    )


@router.get(
    "/enterprises/{enterprise_id}/certifications",
    response_model=list[CertificationOut],
    summary="Certifications",
)
def get_certifications(
    request: Request, enterprise_id: RowId, p: Principal = allow("certification:read")
) -> Response:
    with reading(request) as s:
        rows = records.certifications(s, p, enterprise_id)
        return ok([CertificationOut.model_validate(r) for r in rows])


@router.post(
    "/enterprises/{enterprise_id}/certifications",
    status_code=201,
    response_model=CertificationOut,
    summary="Record a certification",
)
def add_certification(
    request: Request,
    body: CertificationCreate,
    enterprise_id: RowId,
    w: WriteHeaders = Write,
    p: Principal = allow("certification:write"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.add_certification(c.session, p, enterprise_id, body),
        CertificationOut,
        status_code=201,
        payload=body,
    )


# --------------------------------------------------------------------------- institutions


@router.get("/institutions", response_model=Page[InstitutionOut], summary="List institutions")
def list_institutions(
    request: Request,
    page: PageRequest = Depends(page_request),
    sort: str | None = sort_query(*records.INSTITUTION_SORTS),
    kind: InstitutionKind | None = Query(None),
    p: Principal = allow("institution:read"),
) -> Response:
    stmt = records.institutions_query(p, kind.value if kind else None)
    return list_page(request, stmt, page, sort, records.INSTITUTION_SORTS, InstitutionOut)


@router.post(
    "/institutions", status_code=201, response_model=InstitutionOut, summary="Add an institution"
)
def create_institution(
    request: Request,
    body: InstitutionCreate,
    w: WriteHeaders = Write,
    p: Principal = allow("institution:create"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.create_institution(c.session, p, body),
        InstitutionOut,
        status_code=201,
        payload=body,
    )


@router.get(
    "/institutions/{institution_id}", response_model=InstitutionOut, summary="One institution"
)
def get_institution(
    request: Request, institution_id: RowId, p: Principal = allow("institution:read")
) -> Response:
    with reading(request) as s:
        return ok(InstitutionOut.model_validate(records.institution(s, p, institution_id)))


@router.patch(
    "/institutions/{institution_id}", response_model=InstitutionOut, summary="Change an institution"
)
def update_institution(
    request: Request,
    body: InstitutionFields,
    institution_id: RowId,
    w: WriteHeaders = Write,
    p: Principal = allow("institution:update"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.update_institution(c.session, p, institution_id, body),
        InstitutionOut,
        payload=body.model_dump(mode="json", exclude_unset=True),
    )


# --------------------------------------------------------------------------- products


@router.get("/products", response_model=Page[ProductOut], summary="List products")
def list_products(
    request: Request,
    page: PageRequest = Depends(page_request),
    sort: str | None = sort_query(*records.PRODUCT_SORTS),
    institution_id: int | None = Query(None, ge=1, le=2_147_483_647),
    kind: ProductKind | None = Query(None),
    active_on: IsoDate | None = Query(None, description="Only products active on this day."),
    p: Principal = allow("product:read"),
) -> Response:
    stmt = records.products_query(p, institution_id, kind.value if kind else None, active_on)
    return list_page(request, stmt, page, sort, records.PRODUCT_SORTS, ProductOut)


@router.post("/products", status_code=201, response_model=ProductOut, summary="Publish a product")
def create_product(
    request: Request,
    body: ProductCreate,
    w: WriteHeaders = Write,
    p: Principal = allow("product:write"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.create_product(c.session, p, body),
        ProductOut,
        status_code=201,
        payload=body,
    )


@router.get("/products/{product_id}", response_model=ProductOut, summary="One product")
def get_product(
    request: Request, product_id: RowId, p: Principal = allow("product:read")
) -> Response:
    with reading(request) as s:
        return ok(ProductOut.model_validate(records.product(s, p, product_id)))


@router.patch("/products/{product_id}", response_model=ProductOut, summary="Change a product")
def update_product(
    request: Request,
    body: ProductFields,
    product_id: RowId,
    w: WriteHeaders = Write,
    p: Principal = allow("product:write"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.update_product(c.session, p, product_id, body),
        ProductOut,
        payload=body.model_dump(mode="json", exclude_unset=True),
    )


# --------------------------------------------------------------------------- aggregates


@router.get(
    "/aggregates/enterprises",
    response_model=list[AggregateCell],
    summary="Enterprises counted and summed by group (anonymous; sums under disclosure control)",
)
def enterprise_aggregates(
    request: Request,
    year: int = Query(ge=1980, le=2100),
    group_by: Literal["zone", "tech_field", "growth_stage", "province"] = Query("tech_field"),
    p: Principal = allow("aggregate:read"),
) -> Response:
    rule = api_state(request).settings.disclosure
    with reading(request) as s:
        cells = records.enterprise_aggregates(s, group_by, year, rule)
    return ok([AggregateCell.model_validate(c, from_attributes=True) for c in cells])


@router.get(
    "/aggregates/institutions",
    response_model=list[InstitutionAggregate],
    summary="Institutions by kind (anonymous)",
)
def institution_aggregates(request: Request, p: Principal = allow("aggregate:read")) -> Response:
    rule = api_state(request).settings.disclosure
    with reading(request) as s:
        cells = records.institution_aggregates(s, rule)
    return ok([InstitutionAggregate.model_validate(c, from_attributes=True) for c in cells])

"""Shapes of sign-in, users, consents and referrals."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from innofin.kernel.codes import OrgKind, Role
from innofin.kernel.jsontypes import Text40, Text80, Text120, Text500

Id = Annotated[int, Field(ge=1, le=2_147_483_647)]


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Text80
    password: Annotated[str, Field(min_length=1, max_length=200)]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: dt.datetime


class MeOut(BaseModel):
    user_id: int
    username: str
    roles: list[str]
    organisation_id: int
    org_kind: str
    zone_id: int | None
    enterprise_id: int | None
    institution_ids: list[int]
    province: str | None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Text80
    password: Annotated[str, Field(min_length=10, max_length=200)]
    display_name: Text120 | None = None
    roles: list[Role] = Field(min_length=1, max_length=5)
    org_kind: OrgKind
    #: zone code, institution code or enterprise USCC; a province for a government body
    #: (empty for the national office)
    org_key: Text40 | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    display_name: str
    organisation_id: int
    is_active: bool
    roles: list[str]


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    institution_id: Id


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    enterprise_id: int
    institution_id: int
    granted_at: dt.datetime
    withdrawn_at: dt.datetime | None


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enterprise_id: Id
    institution_id: Id
    note: Text500 | None = None


class ReferralOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    enterprise_id: int
    institution_id: int
    created_at: dt.datetime
    note: str | None

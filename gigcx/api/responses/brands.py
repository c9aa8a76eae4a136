"""Answers about brands, their staff and expert programs."""
from __future__ import annotations

from pydantic import BaseModel, Field

from gigcx.api.responses.common import ExpertStats
from gigcx.schemas import BrandSettings, ProgramPublic, StaffPublic


class BrandSettingsView(BrandSettings):
    identity_secret: str | None = Field(None, description="only to admins, once the brand has one")


class ProgramTopic(BaseModel):
    slug: str
    name: str
    description: str
    reward_cents: int


class PublicProgram(BaseModel):
    slug: str
    name: str
    topics: list[ProgramTopic]
    currency: str


class StaffMe(BaseModel):
    brand: str
    brand_name: str
    role: str
    staff: StaffPublic | None = Field(description="null for the brand's API key")


class StaffList(BaseModel):
    staff: list[StaffPublic]


class ProgramWithRecord(ProgramPublic):
    display_name: str
    languages: list[str]
    stats: ExpertStats


class ProgramList(BaseModel):
    programs: list[ProgramWithRecord]


class ExpertProfile(BaseModel):
    id: int
    email: str
    display_name: str
    languages: list[str]
    max_cases: int
    programs: list[ProgramPublic]
    stats: ExpertStats


class IdentitySecret(BaseModel):
    identity_secret: str
    algorithm: str = Field(description="HMAC-SHA256")

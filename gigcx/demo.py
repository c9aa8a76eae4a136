"""`gigcx demo`: a brand with real-looking topics and approved experts, ready to try."""
from __future__ import annotations

import csv
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlmodel import select

from gigcx import schemas, security
from gigcx.models import Expert, ExpertProgram, StaffUser
from gigcx.services import brands, experts
from gigcx.uow import unit_of_work

#: The BANKING77 questions shipped for the demo (CC BY 4.0; source and licence in its README.md).
DEMO_DATA = Path(__file__).resolve().parent / "data" / "banking77" / "demo.csv"
DEMO_EXPERTS = [("ana@demo.gigcx.test", "Ana", ["en", "es"]),
                ("ben@demo.gigcx.test", "Ben", ["en"]),
                ("chloe@demo.gigcx.test", "Chloé", ["en", "fr"])]


class DemoDataMissing(RuntimeError):
    """The shipped demo questions are not where the package puts them (a broken install)."""


def banking77_topics(n: int, per_topic: int = 40, path: Path = DEMO_DATA) -> dict[str, list[str]]:
    """The first `n` topics of the shipped BANKING77 subset with up to `per_topic` questions each."""
    examples: dict[str, list[str]] = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                label = row["label"]
                if label not in examples:
                    if len(examples) >= n:
                        continue
                    examples[label] = []
                if len(examples[label]) < per_topic:
                    examples[label].append(row["text"])
    except FileNotFoundError:
        raise DemoDataMissing(f"the demo's questions are missing ({path}): reinstall GigCX") from None
    if not examples:
        raise DemoDataMissing(f"{path} holds no questions: reinstall GigCX")
    return examples


def topic_name(slug: str) -> str:
    """A BANKING77 intent as a topic name: `lost_or_stolen_card` -> "Lost or stolen card"."""
    return slug.replace("_", " ").strip(" ?").capitalize()


@dataclass
class DemoInfo:
    """What `gigcx demo` created, for printing."""

    slug: str
    api_key: str
    staff_email: str
    staff_password: str
    experts: list[tuple[str, str]] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)

    def render(self, base_url: str) -> str:
        """Human-readable instructions."""
        more = "..." if len(self.topics) > 6 else ""
        lines = [
            f"Demo brand '{self.slug}' with {len(self.topics)} topics: {', '.join(self.topics[:6])}{more}",
            f"  start here:      {base_url}/",
            f"  widget demo:     {base_url}/demo/{self.slug}",
            f"  brand console:   {base_url}/brand/",
            f"    log in with brand '{self.slug}', {self.staff_email} / {self.staff_password}",
            f"  expert console:  {base_url}/expert/",
            f"  API document:    {base_url}/api/v1/openapi.json",
            f"  brand API key:   {self.api_key}",
            "  experts (e-mail / password):",
        ]
        lines += [f"    {email} / {pw}" for email, pw in self.experts]
        return "\n".join(lines)


def seed(n_topics: int = 12, slug: str = "demo") -> DemoInfo:
    """Create (or refresh) the demo brand; passwords are new on every run."""
    with unit_of_work() as uow:  # the brand, then each expert, commit in turn
        session = uow.session
        with uow:
            brand = brands.brand_by_slug(session, slug)
            if brand is None:
                brand, key = brands.create_brand(
                    session=session, data=schemas.BrandCreate(slug=slug, name="Demo Bank"))
            else:  # running servers disconnect the old key's sockets once this commits
                key = brands.rotate_key(session=session, outbox=uow.outbox, brand_id=brand.id)  # type: ignore[arg-type]
            topics = banking77_topics(n_topics)
            for i, (name, examples) in enumerate(topics.items()):
                brands.put_topic(session=session, brand_id=brand.id, slug=name, data=schemas.TopicPut(  # type: ignore[arg-type]
                    name=topic_name(name), reward_cents=200 + 50 * (i % 4),
                    examples=examples))
            staff_pw = secrets.token_urlsafe(9)
            staff = session.exec(select(StaffUser).where(StaffUser.brand_id == brand.id)).first()
            staff = staff or StaffUser(brand_id=brand.id, email="admin@demo.gigcx.test",  # type: ignore[arg-type]
                                       display_name="Demo admin", password_hash="")
            staff.password_hash = security.hash_password(staff_pw)
            session.add(staff)
        info = DemoInfo(slug=slug, api_key=key, staff_email=staff.email, staff_password=staff_pw,
                        topics=list(topics))
        for email, name, langs in DEMO_EXPERTS:
            pw = secrets.token_urlsafe(9)
            with uow:
                expert = session.exec(select(Expert).where(Expert.email == email)).first()
                if expert is None:
                    expert = experts.sign_up(session=session, data=schemas.ExpertCreate(
                        email=email, password=pw, display_name=name, languages=langs))
                expert.password_hash = security.hash_password(pw)
                session.add(expert)
                program = session.exec(select(ExpertProgram).where(
                    ExpertProgram.expert_id == expert.id, ExpertProgram.brand_id == brand.id)).first()
                program = program or ExpertProgram(expert_id=expert.id, brand_id=brand.id)  # type: ignore[arg-type]
                program.status, program.topics, program.requested_topics = "approved", list(topics), list(topics)
                session.add(program)
            info.experts.append((email, pw))
        current_app.logger.info("demo brand %s seeded", slug)
        return info

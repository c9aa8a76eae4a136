"""Brand endpoints: creation (operator), settings, topics, API key rotation."""
from __future__ import annotations

from typing import Any

from gigcx import db, schemas, uow
from gigcx.api import SECURITY, TAGS, api
from gigcx.api.responses.brands import BrandSettingsView
from gigcx.auth import principal, requires
from gigcx.services import brands as svc


@api.post("/brands", tags=[TAGS["brands"]], security=SECURITY,
          responses={201: schemas.BrandCreated})
@requires("operator")
def create_brand(body: schemas.BrandCreate) -> tuple[dict[str, Any], int]:
    """Create a brand; its API key is shown only in this answer."""
    brand, key = svc.create_brand(session=db.request_session(), data=body)
    return {"slug": brand.slug, "name": brand.name, "api_key": key}, 201


@api.get("/brand", tags=[TAGS["brands"]], security=SECURITY,
         responses={200: BrandSettingsView})
@requires("brand")
def get_brand() -> dict[str, Any]:
    """The calling brand's settings (admins also see the identity secret that signs customers' ids)."""
    return svc.settings_view(svc.get_brand(db.request_session(), principal().brand_id),  # type: ignore[arg-type]
                             admin=principal().can_write)


@api.patch("/brand", tags=[TAGS["brands"]], security=SECURITY,
           responses={200: BrandSettingsView})
@requires("brand_admin")
def patch_brand(body: schemas.BrandUpdate) -> dict[str, Any]:
    """Change some of the brand's settings (timers, currency, bonuses)."""
    brand = svc.update_settings(session=db.request_session(), brand_id=principal().brand_id,  # type: ignore[arg-type]
                                data=body)
    return svc.settings_view(brand, admin=True)


@api.post("/brand/api-key", tags=[TAGS["brands"]], security=SECURITY,
          responses={201: schemas.BrandCreated})
@requires("brand_admin")
def rotate_api_key() -> tuple[dict[str, Any], int]:
    """Revoke the brand's API keys and issue a new one."""
    session = db.request_session()
    outbox = uow.for_request().outbox  # emitted after the request commits
    key = svc.rotate_key(session=session, outbox=outbox, brand_id=principal().brand_id)  # type: ignore[arg-type]
    brand = svc.get_brand(session, principal().brand_id)  # type: ignore[arg-type]
    return {"slug": brand.slug, "name": brand.name, "api_key": key}, 201


@api.put("/topics/<slug>", tags=[TAGS["topics"]], security=SECURITY,
         responses={200: schemas.TopicPublic})
@requires("brand_admin")
def put_topic(path: schemas.TopicPath, body: schemas.TopicPut) -> dict[str, Any]:
    """Create or replace a topic with its reward and example questions."""
    topic = svc.put_topic(session=db.request_session(), brand_id=principal().brand_id,  # type: ignore[arg-type]
                          slug=path.slug, data=body)
    return svc.topic_view(topic)


@api.get("/topics", tags=[TAGS["topics"]], security=SECURITY,
         responses={200: schemas.TopicList})
@requires("brand")
def list_topics() -> dict[str, Any]:
    """The brand's topics."""
    topics = svc.list_topics(db.request_session(), principal().brand_id)  # type: ignore[arg-type]
    return {"topics": [svc.topic_view(t) for t in topics]}

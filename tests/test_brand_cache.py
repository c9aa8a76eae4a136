"""The ask's brand copy (`brands.cached_brand`): a change this process commits is seen at once,
one made elsewhere within GIGCX_BRAND_CACHE_S; each session gets its own copy."""
from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from gigcx import schemas
from gigcx.db import session_scope
from gigcx.models import Brand
from gigcx.services import brands
from gigcx.uow import transaction


def _brand(app: Any) -> int:
    with app.app_context(), transaction() as s:
        brand = Brand(slug="acme", name="Acme")
        s.add(brand)
        s.flush()
        assert brand.id is not None
        return brand.id


def _fanout(app: Any, brand_id: int) -> tuple[int, bool]:
    """The cached brand's offer_fanout, and whether a second lookup in the session is the same object."""
    with app.app_context(), session_scope() as s:
        brand = brands.cached_brand(s, brand_id)
        assert s.get(Brand, brand_id) is brand  # merged into the session: no second load
        return brand.offer_fanout, brand in s


def test_a_change_through_the_orm_is_seen_by_the_next_ask(app: Any) -> None:
    app.config["GIGCX"].brand_cache_s = 60.0
    brand_id = _brand(app)
    assert _fanout(app, brand_id) == (1, True)
    with app.app_context(), transaction() as s:
        brands.update_settings(session=s, brand_id=brand_id, data=schemas.BrandUpdate(offer_fanout=3))
    assert _fanout(app, brand_id) == (3, True)
    with app.app_context(), transaction() as s:  # any ORM path, not only update_settings
        brand = s.get(Brand, brand_id)
        assert brand is not None
        brand.offer_fanout = 2
        s.add(brand)
    assert _fanout(app, brand_id) == (2, True)


def test_a_change_outside_the_orm_is_seen_within_the_bound(app: Any) -> None:
    app.config["GIGCX"].brand_cache_s = 0.3
    brand_id = _brand(app)
    assert _fanout(app, brand_id)[0] == 1
    with app.app_context(), session_scope() as s:  # as another process would: no ORM event here
        s.connection().execute(sa.update(Brand).where(Brand.id == brand_id).values(offer_fanout=4))
        s.commit()
    assert _fanout(app, brand_id)[0] == 1  # the copy, younger than the bound
    time.sleep(0.35)
    assert _fanout(app, brand_id)[0] == 4


def test_copies_are_per_session(app: Any) -> None:
    app.config["GIGCX"].brand_cache_s = 60.0
    brand_id = _brand(app)
    with app.app_context(), session_scope() as a, session_scope() as b:
        one, two = brands.cached_brand(a, brand_id), brands.cached_brand(b, brand_id)
        assert one is not two and one in a and two in b
        one.name = "changed in a only"
        assert two.name == "Acme"

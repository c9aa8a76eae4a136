"""A brand's customers' personal data: export it, erase it on request (GDPR articles 15-17)."""
from __future__ import annotations

import json
from typing import Any

from flask import Response

from gigcx import db, schemas, uow
from gigcx.api import SECURITY, TAGS, api
from gigcx.api.responses.cases import CustomerExport, ErasureReport
from gigcx.auth import principal, requires
from gigcx.services import privacy


@api.get("/customers/<int:id>/export", tags=[TAGS["cases"]], security=SECURITY,
         responses={200: CustomerExport})
@requires("brand")
def export_customer(path: schemas.CustomerPath) -> Response:
    """Everything stored about one customer, as a JSON file to hand to them."""
    data = privacy.export(db.request_session(), principal().brand_id, path.id)  # type: ignore[arg-type]
    return Response(json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json",
                    headers={"Content-Disposition": f"attachment; filename=customer-{path.id}.json"})


@api.delete("/customers/<int:id>", tags=[TAGS["cases"]], security=SECURITY,
            responses={200: ErasureReport})
@requires("brand_admin")
def erase_customer(path: schemas.CustomerPath) -> dict[str, Any]:
    """Erase one customer's personal data now: their conversations' text is redacted, open cases
    close, answers reused from their cases are deleted and their token stops working. The answer
    says what was removed, what was kept and why, and carries the data as it was (`export`)."""
    outbox = uow.for_request().outbox  # emitted after the request commits
    report = privacy.erase(db.request_session(), outbox, principal().brand_id, path.id)  # type: ignore[arg-type]
    return report

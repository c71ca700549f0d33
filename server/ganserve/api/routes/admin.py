"""Operations on the gateway itself, with the admin scope:

POST /v1/admin/reload   serve the models folder as it is now: new models and new weights, without a
                        restart and without failing a request (docs/kubernetes.md), on this gateway and
                        on every gateway sharing its Redis (ganserve.operations.reloads); SIGHUP
                        reloads one gateway
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from ganserve.access.keys import Scope
from ganserve.api.access import requires
from ganserve.protocol import Reload

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=requires(Scope.admin))


@router.post("/reload", response_model=Reload, summary="Load new models and new weights from the models folder, on every gateway")
async def reload(request: Request) -> Reload:
    return await request.app.state.reloads.reload_everywhere()

"""The gRPC server of the gateway: ganserve.v1, grpc.health.v1 and server reflection on
GANSERVE_GRPC_PORT, started after the models are loaded and stopped gracefully before they close."""

from __future__ import annotations

import logging
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from ganserve.rpc.generated.ganserve.v1 import ganserve_pb2, ganserve_pb2_grpc
from ganserve.rpc.interceptors import ServiceInterceptor
from ganserve.rpc.servicer import GeneratorServicer
from ganserve.state import AppState

log = logging.getLogger("ganserve.rpc")

SERVICE_NAME = ganserve_pb2.DESCRIPTOR.services_by_name["Generator"].full_name  # ganserve.v1.Generator
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


class GatewayHealth(HealthServicer):
    """grpc.health.v1 for "" and ganserve.v1.Generator: SERVING exactly when /readyz is 200 (every
    model's engine ready), checked afresh on each Check; NOT_SERVING from the start of shutdown."""

    def __init__(self, state: AppState):
        super().__init__()
        self.state = state

    async def refresh(self) -> str | None:
        reason = await self.state.not_ready_reason()
        for service in ("", SERVICE_NAME):
            await self.set(service, NOT_SERVING if reason else SERVING)
        return reason

    async def Check(self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext) -> Any:
        await self.refresh()
        return await super().Check(request, context)


class GrpcServer:
    def __init__(self, state: AppState):
        settings = state.settings
        options = [
            ("grpc.max_receive_message_length", settings.grpc_max_receive_bytes),
            ("grpc.max_send_message_length", settings.grpc_max_send_bytes),
            ("grpc.so_reuseport", 0),  # a second gateway on the same port must fail, not share it
        ]
        self.state, self.grace_s = state, settings.grpc_grace_s
        self.server = grpc.aio.server(interceptors=[ServiceInterceptor(state)], options=options)
        ganserve_pb2_grpc.add_GeneratorServicer_to_server(GeneratorServicer(state), self.server)
        self.health = GatewayHealth(state)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
        reflection.enable_server_reflection([SERVICE_NAME, health_name, reflection.SERVICE_NAME], self.server)
        address = f"{settings.host}:{settings.grpc_port}"
        try:
            if settings.tls_cert_file and settings.tls_key_file:
                pair = (settings.tls_key_file.read_bytes(), settings.tls_cert_file.read_bytes())
                self.port = self.server.add_secure_port(address, grpc.ssl_server_credentials([pair]))
            else:
                self.port = self.server.add_insecure_port(address)
        except RuntimeError as exc:
            raise RuntimeError(f"gRPC cannot listen on {address} (in use? set GANSERVE_GRPC_PORT, 0 for no gRPC): {exc}") from None

    async def start(self) -> None:
        await self.server.start()
        await self.health.refresh()
        log.info("gRPC on %s:%d (ganserve.v1, health, reflection)", self.state.settings.host, self.port)

    async def stop(self) -> None:
        """No new calls; calls in flight get grace_s to finish, then are cancelled."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self.grace_s)

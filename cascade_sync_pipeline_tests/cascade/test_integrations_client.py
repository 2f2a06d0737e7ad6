"""Every request the Integrations client sends, held to Cascade's connector definition
(``integrations-connector.swagger.json``): its path, query and body, over real HTTP to the emulator;
and every /v2 operation of the connector is one the client uses."""

from __future__ import annotations

import json
from datetime import date

import httpx

from cascade_sync_pipeline.cascade.integrations import IntegrationsClient
from cascade_sync_pipeline_tests.support.connector_spec import REFERENCE_DIR, ConnectorSpec
from cascade_sync_sandbox.integrations import SANDBOX_TOKEN, IntegrationsEmulator


class CheckedTransport(httpx.HTTPTransport):
    """Real HTTP, with each request validated against the connector before it is sent."""

    def __init__(self, spec: ConnectorSpec) -> None:
        super().__init__()
        self.spec, self.templates = spec, set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        query = dict(request.url.params)
        template = self.spec.validate_request(request.method, request.url.path, body, query=query)
        self.templates.add((request.method, template))
        return super().handle_request(request)


def test_every_request_the_client_sends_matches_the_connector():
    spec = ConnectorSpec(REFERENCE_DIR / "integrations-connector.swagger.json")
    emulator = IntegrationsEmulator()
    ws = emulator.add_workspace("Acme")["id"]
    plan = emulator.add_plan(ws, "FY2027")["id"]
    action = emulator.add_action(plan, "Ship v2")["id"]
    measure = emulator.add_measure(plan, "Leads")["id"]
    transport = CheckedTransport(spec)
    with (
        emulator.serve(port=0) as server,
        IntegrationsClient(server.url, token=SANDBOX_TOKEN, transport=transport) as client,
    ):
        assert [w["id"] for w in client.workspaces()] == [ws]
        assert [p["id"] for p in client.plans(ws)] == [plan]
        assert [a["id"] for a in client.actions(ws, plan)] == [action]
        assert [m["id"] for m in client.measures(ws, plan)] == [measure]
        client.set_action_value(ws, plan, action, 62.5)
        client.set_measure_value(ws, plan, measure, 40)
        client.set_measure_history(ws, plan, measure, [(date(2026, 11, 1), 12.4), ("2026-11-02", 13)])
    assert emulator.action(action)["value"] == 62.5
    assert emulator.measure(measure)["value"] == 40
    assert emulator.measure(measure)["history"] == {"2026-11-01": 12, "2026-11-02": 13}
    v2 = {(method, template) for method, template, _ in spec.operations() if template.startswith("/v2/")}
    assert transport.templates == v2

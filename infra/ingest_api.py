"""The public HTTP API and the two functions behind it: ``ingest`` (monitor webhooks) and ``api`` (management).

Routes and their throttles come from ``oncall.http_routes`` (the local gateway serves and enforces the same). One
HTTP API with a ``$default`` stage (auto-deploy, JSON access logs without the request path, because the path
carries the integration's secret token) whose route settings give every route the throttle of its class
(``ingest_throttle``, ``api_throttle``, ``web_throttle``): an alert storm exhausts the ingest routes' buckets
only, so the console, the API and the action links in notifications stay reachable.
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_logs as logs
from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration
from constructs import Construct

from infra.config import TocsinConfig
from infra.data import DataStore
from infra.functions import Foundation, FunctionSpec, TocsinFunction
from infra.sources import http_routes

INGEST = FunctionSpec(
    name="ingest",
    description="Tocsin ingest: POST /integrations/v1/{type}/{token} -> alert stored and grouped",
    memory_mb=512,
    timeout_seconds=10,
)
API = FunctionSpec(
    name="api",
    description="Tocsin management REST API /api/v1 (API-key auth)",
    memory_mb=512,
    timeout_seconds=29,  # the HTTP API integration timeout is 30 s
)
WEB = FunctionSpec(
    name="web",
    description="Tocsin web console / and /ui (server-rendered pages, API-key sign-in, session cookie)",
    memory_mb=512,
    timeout_seconds=29,
)
SPECS = {spec.name: spec for spec in (INGEST, API, WEB)}
# Table access per function (least privilege, see infra/data.py).
GRANTS = {"ingest": DataStore.grant_ingest, "api": DataStore.grant_read_write, "web": DataStore.grant_read_write}

# Why each function authenticates its own routes (cdk-nag AwsSolutions-APIG4, acknowledged per route): by path
# first, else by the function serving the route.
ROUTE_AUTH_REASONS_BY_PATH = {
    "/actions/{token}": (
        "Action links in notifications (acknowledge, resolve, silence from a phone) authenticate by the token in "
        "the path: claims HMAC-signed with the key in Secrets Manager, expiring after 24 h and verified in "
        "constant time by the function; a mail or SMS client cannot send other credentials."
    ),
}
ROUTE_AUTH_REASONS = {
    "ingest": (
        "Ingest URLs authenticate by the secret integration token in the path, like every monitoring webhook "
        "(Alertmanager, Grafana, Zabbix cannot sign requests); the function compares the token's SHA-256 "
        "with the stored hash and answers 403 to unknown tokens."
    ),
    "api": (
        "The management API authenticates OnCall-compatible API keys ('Authorization: <key>') in the function: "
        "keys are stored hashed, compared in constant time and carry the admin/editor/viewer role checked "
        "per endpoint; an HTTP API authorizer cannot express the role checks."
    ),
    "web": (
        "The web console authenticates in the function: sign-in verifies an API key like the management API, "
        "then an HttpOnly, Secure, SameSite=Lax session cookie HMAC-signed with the key in Secrets Manager and "
        "expiring after 12 h, with a per-session CSRF token on every form; the same admin/editor/viewer role "
        "checks apply. The sign-in page and the static htmx file must be reachable without credentials."
    ),
}

_ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",  # the route template, never the path (it holds the token)
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        "integrationStatus": "$context.integrationStatus",
        "integrationLatency": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
        "userAgent": "$context.identity.userAgent",
    },
    separators=(",", ":"),
)


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, destination: apigwv2.IAccessLogDestination, log_format: apigw.AccessLogFormat) -> None:
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format


class IngestApi(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, foundation: Foundation) -> None:
        super().__init__(scope, construct_id)
        config = foundation.config
        self.functions: dict[str, TocsinFunction] = {}
        for name in dict.fromkeys(route.function for route in http_routes.ROUTES):
            if name not in SPECS or name not in GRANTS:
                raise ValueError(
                    f"http_routes.ROUTES names function {name!r}, which infra/ingest_api.py does not define"
                )
            fn = TocsinFunction(self, name.capitalize(), spec=SPECS[name], foundation=foundation)
            GRANTS[name](foundation.data, fn.function)
            self.functions[name] = fn

        self.http_api = apigwv2.HttpApi(
            self,
            "Gateway",
            description="Tocsin: monitor webhooks (/integrations/v1), management API (/api/v1), web console (/ui)",
            create_default_stage=False,
        )
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=config.log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            auto_deploy=True,
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.access_logs), apigw.AccessLogFormat.custom(_ACCESS_LOG_FORMAT)
            ),
        )

        integrations = {
            name: HttpLambdaIntegration(f"{name.capitalize()}Integration", fn.function)
            for name, fn in self.functions.items()
        }
        self.routes: dict[str, apigwv2.HttpRoute] = {}
        for route in http_routes.ROUTES:
            (created,) = self.http_api.add_routes(
                path=route.path,
                methods=[apigwv2.HttpMethod[route.method]],
                integration=integrations[route.function],
            )
            reason = ROUTE_AUTH_REASONS_BY_PATH.get(route.path) or ROUTE_AUTH_REASONS[route.function]
            Validations.of(created).acknowledge(Acknowledgment(id="AwsSolutions::AwsSolutions-APIG4", reason=reason))
            self.routes[route.key] = created
        self._throttle_routes(config)

    def _throttle_routes(self, config: TocsinConfig) -> None:
        """Route settings of the stage: a bucket per route, sized by the route's class (no L2 property for it)."""
        throttles = config.throttles
        stage = self.stage.node.default_child
        assert isinstance(stage, apigwv2.CfnStage)
        stage.route_settings = {
            route.key: {
                "ThrottlingRateLimit": throttles[route.function].rate,
                "ThrottlingBurstLimit": throttles[route.function].burst,
            }
            for route in http_routes.ROUTES
        }
        for route in self.routes.values():  # route settings name routes, which must exist first
            self.stage.node.add_dependency(route)

    @property
    def url(self) -> str:
        """Base URL of the API (``https://<id>.execute-api.<region>.amazonaws.com/``)."""
        return self.stage.url

    @property
    def endpoint(self) -> str:
        """The same URL without the trailing slash (``TOCSIN_PUBLIC_URL``: links are ``<endpoint>/actions/...``).

        It refers to the ``AWS::ApiGatewayV2::Api`` resource only, so a function may carry it in its environment
        without a dependency cycle (the routes and integrations refer to the functions, the API does not).
        """
        return self.http_api.api_endpoint

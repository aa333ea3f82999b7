"""A custom domain for the HTTP API, so the URL every monitor points at survives a redeploy or a new stack.

With ``domain_name`` (CDK context): an API Gateway (v2) regional domain name with TLS 1.2, mapped to the
``$default`` stage, and its ACM certificate: the one of ``certificate_arn`` (same region), or a new one validated
through DNS. With ``hosted_zone_id`` and ``hosted_zone_name`` the new certificate validates itself in that Route 53
zone and the domain gets an alias A record there; without a zone, ``cdk deploy`` waits until the
validation CNAME shown in the CloudFormation events and the ACM console exists, and the domain's CNAME must point
at the ``ApiDomainTarget`` output. Every zone is given by id and name (no lookup), so ``cdk synth`` stays offline.
"""

from __future__ import annotations

from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from constructs import Construct

from infra.config import TocsinConfig


class CustomDomain(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: TocsinConfig,
        http_api: apigwv2.IHttpApi,
        stage: apigwv2.IHttpStage,
    ) -> None:
        super().__init__(scope, construct_id)
        assert config.domain_name is not None
        self.name = config.domain_name
        zone = (
            route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=config.hosted_zone_id, zone_name=config.hosted_zone_name.rstrip(".")
            )
            if config.hosted_zone_id and config.hosted_zone_name
            else None
        )
        self.certificate: acm.ICertificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", config.certificate_arn)
            if config.certificate_arn
            else acm.Certificate(
                self,
                "Certificate",
                domain_name=self.name,
                validation=acm.CertificateValidation.from_dns(zone),
            )
        )
        self.domain = apigwv2.DomainName(
            self,
            "Name",
            domain_name=self.name,
            certificate=self.certificate,
            security_policy=apigwv2.SecurityPolicy.TLS_1_2,
        )
        self.mapping = apigwv2.ApiMapping(self, "Mapping", api=http_api, domain_name=self.domain, stage=stage)
        if zone is not None:
            target = route53.RecordTarget.from_alias(
                route53_targets.ApiGatewayv2DomainProperties(
                    self.domain.regional_domain_name, self.domain.regional_hosted_zone_id
                )
            )
            route53.ARecord(self, "Alias", zone=zone, record_name=self.name, target=target)

    @property
    def url(self) -> str:
        return f"https://{self.name}/"

    @property
    def target(self) -> str:
        """Where the domain's CNAME (or alias) points: the API Gateway regional domain name."""
        return self.domain.regional_domain_name

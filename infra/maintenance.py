"""Maintenance windows: one-time EventBridge Scheduler schedules that invoke ``maintenance_end``.

``POST /api/v1/integrations/{id}/maintenance_start`` (the ``api`` function, ``oncall.maintenance.start``)
writes the window and creates the schedule ``maintenance-<integration>-<window>`` with ``at(<end>)`` in this
construct's schedule group; the schedule invokes ``maintenance_end`` with ``{"integration_id",
"maintenance_id"}`` and deletes itself (ActionAfterCompletion DELETE). ``maintenance_stop`` deletes it early.

- The schedule group has a fixed name derived from the stack (``<stack>-maintenance``), so the api's permission
  is ``scheduler:CreateSchedule``/``DeleteSchedule`` on ``schedule/<group>/*`` only (schedule names are made at
  run time); deleting the stack deletes the group and any pending schedule in it.
- Schedules run as the scheduler role: assumable by ``scheduler.amazonaws.com`` for this account and this group
  only (confused-deputy conditions, as CDK's own scheduler targets do) and allowed ``lambda:InvokeFunction`` on
  ``maintenance_end`` alone. The api may pass that role (``iam:PassRole``, to Scheduler only) and no other.
- The api gets the three settings of ``oncall.scheduler.scheduler_for``. No cycle: ``api`` refers to
  ``maintenance_end``, the role and the group, none of which refers to ``api``.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct
from oncall.settings import Env

from infra.escalation import nag_finding
from infra.failures import FailureQueue
from infra.functions import Foundation, FunctionSpec, TocsinFunction
from infra.observability import PERIOD, Observability

# Environment variables read by oncall.scheduler.scheduler_for (the api function).
# What the api does with schedules: create a window's end, delete it when the window is stopped early.
SCHEDULE_ACTIONS: tuple[str, ...] = ("scheduler:CreateSchedule", "scheduler:DeleteSchedule")
SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"

MAINTENANCE_END = FunctionSpec(
    name="maintenance_end",
    description="Tocsin maintenance end: invoked by the window's one-time schedule; resolves what it collected",
    memory_mb=512,
    timeout_seconds=60,  # resolves the maintenance group and every group attached to it
)


class MaintenanceWindows(Construct):
    """The ``maintenance_end`` function, the schedule group of the windows' ends and the role schedules run as."""

    def __init__(self, scope: Construct, construct_id: str, *, foundation: Foundation, failures: FailureQueue) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.end = TocsinFunction(self, "End", spec=MAINTENANCE_END, foundation=foundation)
        # Scheduler invokes it asynchronously: two retries, then the event is kept in the failure queue.
        failures.keep_failures_of(self.end)
        # Reads the integration, clears its window, lists and resolves the collected groups: the api's profile.
        foundation.data.grant_read_write(self.end.function)

        self.group_name = f"{stack.stack_name}-maintenance"
        self.group = scheduler.ScheduleGroup(
            self,
            "Group",
            schedule_group_name=self.group_name,
            # Pending schedules only target this stack's maintenance_end, which goes with the stack too.
            removal_policy=RemovalPolicy.DESTROY,
        )
        # Every schedule of the group (names are made at run time); never a schedule of another group.
        self.schedules_arn = stack.format_arn(
            service="scheduler",
            resource="schedule",
            resource_name=f"{self.group_name}/*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

        self.role = iam.Role(
            self,
            "SchedulerRole",
            description="Tocsin maintenance schedules: invoke maintenance_end, nothing else",
            assumed_by=iam.ServicePrincipal(
                SCHEDULER_PRINCIPAL,
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": stack.account,
                        "aws:SourceArn": self.group.schedule_group_arn,
                    }
                },
            ),
        )
        # The unqualified function ARN only (schedules target it so): no "<arn>:*" versions/aliases wildcard.
        iam.Grant.add_to_principal(
            grantee=self.role, actions=["lambda:InvokeFunction"], resource_arns=[self.end.function.function_arn]
        )

    def allow_scheduling(self, fn: TocsinFunction) -> None:
        """``fn`` may create and delete the windows' schedules (and pass the scheduler role), with the settings
        ``oncall.scheduler.scheduler_for`` reads."""
        iam.Grant.add_to_principal(
            grantee=fn.function, actions=list(SCHEDULE_ACTIONS), resource_arns=[self.schedules_arn]
        )
        fn.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": SCHEDULER_PRINCIPAL}},
            )
        )
        fn.function.add_environment(Env.SCHEDULE_GROUP, self.group.schedule_group_name)
        fn.function.add_environment(Env.MAINTENANCE_END_ARN, self.end.function.function_arn)
        fn.function.add_environment(Env.SCHEDULER_ROLE_ARN, self.role.role_arn)
        Validations.of(fn.role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[{nag_finding(Stack.of(self).resolve(self.schedules_arn))}]",
                reason=(
                    "CreateSchedule/DeleteSchedule take the schedule's ARN and each maintenance window's schedule "
                    "is named at run time (maintenance-<integration>-<window>): the wildcard is limited to the "
                    f"schedules of the one schedule group {self.group_name}."
                ),
            )
        )

    def watch(self, observability: Observability) -> None:
        """Alarms: the function's errors/throttles, and window ends that Scheduler gave up invoking."""
        self.end.watch(observability)
        observability.alarm(
            "MaintenanceEndsDropped",
            self.group.metric_dropped(period=PERIOD, statistic="Sum"),
            "Tocsin maintenance windows: EventBridge Scheduler dropped invocations of maintenance_end in the last "
            "5 minutes (retries exhausted), so those windows did not end: stop them through the API",
        )

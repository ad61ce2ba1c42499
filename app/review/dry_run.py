"""A dry run: the real request, carried out in one transaction that is rolled back, with every
Graph write going to a planning client. Its commands run through the command executor's own code
(Graph's answer taken as success), and the operations it queues are planned chunk by chunk with
the operation executor's own sender; what was recorded is the plan."""

from __future__ import annotations

from dataclasses import dataclass

from app.audit.models import AuditEvent
from app.audit.recorder import AuditRecorder
from app.change_context import ChangeContext
from app.commands import kinds
from app.commands.executor import Claimed, CommandExecutor
from app.commands.models import Command
from app.graph.client import GraphClient, GraphClientConfig
from app.operations import item_store
from app.operations.executor import context_of
from app.operations.models import Operation
from app.operations.sending import ChunkSender
from app.review.planning_graph import PlannedCall, PlanStep, planning_client, summarise
from app.rollouts.models import Rollout
from app.unit_of_work import UnitOfWork


@dataclass
class Plan:
    """What a request would do: its Graph calls (summarised) and the audit events it records."""

    steps: list[PlanStep]
    events: list[AuditEvent]


class DryRun:
    """Collects, for one request, the Graph writes asked for, the audit events recorded and the
    operations queued; `plan()` adds the operations' chunked calls."""

    def __init__(
        self, graph_config: GraphClientConfig, commands: CommandExecutor, chunk_size: int
    ) -> None:
        self.calls: list[PlannedCall] = []
        self.graph: GraphClient = planning_client(self.calls, graph_config)
        self.events: list[AuditEvent] = []
        self.operations: list[Operation] = []
        self.chunk_size = chunk_size
        self._commands = commands

    def executor(self, uow: UnitOfWork) -> CommandExecutor:
        """The command executor of a dry run: the real one's code, in `uow`, sending nothing."""
        return PlanningCommandExecutor(uow, self.graph, self._commands)

    async def plan(self, uow: UnitOfWork) -> Plan:
        """The request's plan; call it after the request's own code ran, before rolling back."""
        events = list(self.events)  # the operations' own events are recorded as they run
        for operation in self.operations:
            await self._plan_operation(uow, operation)
        return Plan(summarise(self.calls), events)

    async def _plan_operation(self, uow: UnitOfWork, operation: Operation) -> None:
        """Send the operation's pending items to the planning client, as its job would."""
        session = uow.session
        rollout = await session.get(Rollout, operation.rollout_id) if operation.rollout_id else None
        sender = ChunkSender.for_operation(self.graph, operation, rollout)
        audit = AuditRecorder(uow, context_of(operation))
        pending = await item_store.load(session, operation.id, "pending")
        for chunk in item_store.chunks_of(pending, self.chunk_size):
            if operation.kind == "devices.release":
                await sender.release_chunk(audit, chunk)
            else:
                await sender.audience_chunk(audit, chunk, self._commands.clock())


class PlanningCommandExecutor(CommandExecutor):
    """Runs a command the request has just recorded, within the request's own transaction:
    the Graph call through the planning client, then the executor's own success bookkeeping."""

    def __init__(self, uow: UnitOfWork, graph: GraphClient, real: CommandExecutor) -> None:
        super().__init__(
            real.sessionmaker,
            graph,
            lease_seconds=real.lease_seconds,
            clock=real.clock,
            on_created=real.on_created,
        )
        self.uow = uow

    async def execute_held(
        self, command: Command, rollout: Rollout, context: ChangeContext
    ) -> Command:
        self.uow.session.add(command)  # the request's transaction is the whole dry run
        target = kinds.Target.of(rollout, command.anchor)

        async def save_anchor(audience_id: str) -> None:
            command.anchor = audience_id
            rollout.graph_audience_id = audience_id

        result = await kinds.call(self.graph, command.kind, command.payload, target, save_anchor)
        await self.record_success(self.uow, Claimed(command, target, context), result)
        await self.uow.commit()
        return command

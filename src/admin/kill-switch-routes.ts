/**
 * `/admin/kill-switches`: engage, release and list (docs/architecture.md#kill-switches). Each change is
 * durable before the answer and audited with the admin's identity.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditEventInput, AuditWriter } from '../audit/events.js';
import { InvalidRequest } from '../errors.js';
import type { KillScope, KillSwitch } from '../store/kill-switch-store.js';
import { adminAuditFields } from './audit-context.js';
import { GLOBAL_TARGET, type KillSwitchControl } from '../kill-switches/control.js';
import { adminErrors, targetId } from './schemas.js';

export interface KillSwitchRoutesOptions {
  control: KillSwitchControl;
  audit: AuditWriter;
}

const scope = z.enum(['global', 'gateway', 'agent', 'user', 'provider', 'grant']);
const killSwitch = z.object({
  scope,
  target: z.string(),
  reason: z.string(),
  engagedAt: z.number().int(),
  engagedBy: z.string(),
});
const engageBody = z.strictObject({
  scope,
  target: targetId,
  reason: z.string().trim().min(1).max(256),
});

/** `*` names the global switch and nothing else: a switch that could never be engaged is malformed, also when released. */
function assertTargetFits(scope: KillScope, target: string): void {
  if ((scope === 'global') !== (target === GLOBAL_TARGET)) throw new InvalidRequest('global switch target must be *, and only it');
}

/** The audit field that names a switch's target, so audit queries by agent/user/provider find it. */
function targetField(sw: { scope: KillScope; target: string }): Partial<AuditEventInput> {
  switch (sw.scope) {
    case 'gateway':
      return { gateway: sw.target };
    case 'agent':
      return { agent: sw.target };
    case 'user':
      return { user: sw.target };
    case 'provider':
      return { provider: sw.target };
    case 'grant':
      return { grant: sw.target };
    case 'global':
      return {};
  }
}

export const killSwitchRoutes: FastifyPluginAsync<KillSwitchRoutesOptions> = async (app, { control, audit }) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.post(
    '/kill-switches',
    {
      schema: {
        summary: 'Engage a kill switch; answers once it is durable',
        tags: ['admin'],
        body: engageBody,
        response: { 200: z.object({ epoch: z.number().int(), switch: killSwitch }), ...adminErrors },
      },
    },
    async (request) => {
      const { scope, target, reason } = request.body;
      assertTargetFits(scope, target);
      const sw: KillSwitch = { scope, target, reason, engagedAt: Date.now(), engagedBy: request.admin.id };
      const epoch = await control.engage(sw);
      await audit.record({
        action: 'killswitch.engage',
        decision: 'allow',
        reason,
        ...adminAuditFields(request),
        ...targetField(sw),
        details: { scope, target, epoch },
      });
      return { epoch, switch: sw };
    },
  );

  routes.delete(
    '/kill-switches/:scope/:target',
    {
      schema: {
        summary: 'Release a kill switch',
        tags: ['admin'],
        params: z.strictObject({ scope, target: targetId }),
        response: { 200: z.object({ epoch: z.number().int(), released: z.boolean() }), ...adminErrors },
      },
    },
    async (request) => {
      const { scope, target } = request.params;
      assertTargetFits(scope, target);
      const result = await control.release(scope, target);
      await audit.record({
        action: 'killswitch.release',
        decision: 'allow',
        ...adminAuditFields(request),
        ...targetField({ scope, target }),
        reason: result.released ? 'released' : 'not_engaged',
        details: { scope, target, epoch: result.epoch },
      });
      return result;
    },
  );

  routes.get(
    '/kill-switches',
    {
      schema: {
        summary: 'Engaged kill switches and their epoch',
        tags: ['admin'],
        response: { 200: z.object({ epoch: z.number().int(), switches: z.array(killSwitch) }), ...adminErrors },
      },
    },
    async () => {
      const snapshot = await control.snapshot();
      const switches = [...snapshot.switches].sort((a, b) => a.engagedAt - b.engagedAt || `${a.scope}:${a.target}`.localeCompare(`${b.scope}:${b.target}`));
      return { epoch: snapshot.epoch, switches };
    },
  );
};

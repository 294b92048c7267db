import { z } from 'zod';

/** `GET /` (seed 001 shape). */
export const rootSchema = z.object({
  message: z.string(),
  version: z.string(),
  status: z.string(),
  documentation: z.string(),
  endpoints: z.record(z.string(), z.string()),
});

const up = z.enum(['up', 'down']);

/** `GET /api/health`: 200 when healthy, 503 when degraded. */
export const healthReportSchema = z.object({
  status: z.enum(['healthy', 'degraded']),
  timestamp: z.iso.datetime(),
  services: z.object({
    database: z.object({ status: up, backend: z.enum(['postgres', 'pglite']) }),
    redis: z.object({ status: up, backend: z.enum(['redis', 'memory']) }),
    llm: z.object({
      status: z.enum(['up', 'offline', 'down']),
      provider: z.enum(['openai', 'offline']),
      endpoints: z.array(
        z.object({
          name: z.string(),
          model: z.string(),
          circuit: z.enum(['closed', 'open', 'half-open']),
        }),
      ),
    }),
  }),
  uptime: z.number(),
  responseTime: z.string(),
});
export type HealthReport = z.infer<typeof healthReportSchema>;

export const liveSchema = z.object({ status: z.literal('ok') });
export const readySchema = z.object({ status: z.enum(['ready', 'not_ready']) });

/** `GET /api/me/usage`: today's (UTC) token spend against the daily quota. */
export const usageTodaySchema = z.object({
  date: z.string(),
  tokensUsed: z.number().int(),
  /** null when unlimited (QUOTA_DAILY_TOKENS=0). */
  quota: z.number().int().nullable(),
  remaining: z.number().int().nullable(),
  resetsAt: z.iso.datetime(),
});
export type UsageToday = z.infer<typeof usageTodaySchema>;

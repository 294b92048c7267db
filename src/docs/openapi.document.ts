import {
  analyzeSentimentSchema,
  conversationDtoSchema,
  conversationSentimentSchema,
  conversationSummarySchema,
  profileResponseSchema,
  userProfileSchema,
  createConversationSchema,
  errorBodySchema,
  healthReportSchema,
  listConversationsQuerySchema,
  listMessagesQuerySchema,
  liveSchema,
  messageDtoSchema,
  pageSchema,
  readySchema,
  restChatResponseSchema,
  restChatSchema,
  rootSchema,
  sentimentResultSchema,
  updateConversationSchema,
  usageTodaySchema,
  userHistoryQuerySchema,
  userIdParamSchema,
  uuidParamSchema,
} from '@charla/contracts';
import { z } from 'zod';

type JsonSchema = Record<string, unknown>;

/** One documented operation; its schemas are the ones the code validates and answers with. */
export interface Operation {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI path, e.g. /api/conversations/{id} */
  path: string;
  summary: string;
  tag: string;
  public?: boolean;
  /** Health probes: never rate limited, so load balancers see the truth even while limits refuse. */
  unlimited?: boolean;
  params?: Record<string, z.ZodType>;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Success responses by status; null means no body. */
  responses: Record<number, z.ZodType | null>;
  /** Error statuses beyond the common ones, answered with the error envelope. */
  errors?: number[];
  /** Extra content types of the success response (SSE, Prometheus text). */
  alternatives?: Record<string, string>;
}

const id = { id: uuidParamSchema };
const userId = { userId: userIdParamSchema };

/** Every HTTP route Charla serves, kept next to the schemas; the contract test checks both directions. */
export const OPERATIONS: Operation[] = [
  {
    method: 'get',
    path: '/',
    tag: 'service',
    public: true,
    summary: 'Name, version and links',
    responses: { 200: rootSchema },
  },
  {
    method: 'get',
    path: '/api/health',
    tag: 'service',
    public: true,
    unlimited: true,
    summary: 'State of the database, Redis and the LLM; 503 when degraded',
    responses: { 200: healthReportSchema, 503: healthReportSchema },
  },
  {
    method: 'get',
    path: '/api/health/live',
    tag: 'service',
    public: true,
    unlimited: true,
    summary: 'Liveness',
    responses: { 200: liveSchema },
  },
  {
    method: 'get',
    path: '/api/health/ready',
    tag: 'service',
    public: true,
    unlimited: true,
    summary: 'Readiness: storage answers',
    responses: { 200: readySchema, 503: readySchema },
  },
  {
    method: 'get',
    path: '/metrics',
    tag: 'service',
    public: true,
    summary: 'Prometheus metrics',
    responses: { 200: null },
    alternatives: { 'text/plain': 'Prometheus text exposition format' },
  },
  {
    method: 'post',
    path: '/api/conversations',
    tag: 'conversations',
    summary: 'Start a conversation',
    body: createConversationSchema,
    responses: { 201: conversationDtoSchema },
  },
  {
    method: 'get',
    path: '/api/conversations',
    tag: 'conversations',
    summary:
      "The caller's conversations, most recently active first (admins: any user's with userId)",
    query: listConversationsQuerySchema,
    responses: { 200: pageSchema(conversationDtoSchema) },
    errors: [403],
  },
  {
    method: 'get',
    path: '/api/conversations/{id}',
    tag: 'conversations',
    summary: 'One conversation (owner or admin)',
    params: id,
    responses: { 200: conversationDtoSchema },
  },
  {
    method: 'patch',
    path: '/api/conversations/{id}',
    tag: 'conversations',
    summary: 'Rename or change persona (owner)',
    params: id,
    body: updateConversationSchema,
    responses: { 200: conversationDtoSchema },
  },
  {
    method: 'delete',
    path: '/api/conversations/{id}',
    tag: 'conversations',
    summary:
      'Delete a conversation everywhere (owner): messages, running reply, memory, summary, buffers',
    params: id,
    responses: { 204: null },
  },
  {
    method: 'get',
    path: '/api/conversations/{id}/messages',
    tag: 'history',
    summary: 'History, newest first, keyset-paginated (a history read)',
    params: id,
    query: listMessagesQuerySchema,
    responses: { 200: pageSchema(messageDtoSchema) },
  },
  {
    method: 'get',
    path: '/api/conversations/{id}/sentiment',
    tag: 'sentiment',
    summary: 'Aggregate and timeline of the sentiment of its user messages',
    params: id,
    responses: { 200: conversationSentimentSchema },
  },
  {
    method: 'get',
    path: '/api/chat/history/{userId}',
    tag: 'history',
    summary: "All of a user's messages, newest first (the caller, or any user for admins)",
    params: userId,
    query: userHistoryQuerySchema,
    responses: { 200: pageSchema(messageDtoSchema) },
    errors: [403],
  },
  {
    method: 'delete',
    path: '/api/chat/history/{userId}',
    tag: 'history',
    summary: "Erase a user's conversations, messages, profile and resume buffers",
    params: userId,
    responses: { 204: null },
    errors: [403],
  },
  {
    method: 'post',
    path: '/api/chat/analyze-sentiment',
    tag: 'sentiment',
    summary: 'Sentiment of a text (Spanish, English; language detected)',
    body: analyzeSentimentSchema,
    responses: { 200: sentimentResultSchema },
  },
  {
    method: 'post',
    path: '/api/chat',
    tag: 'chat',
    summary: 'Send a message, get the whole reply (or SSE with Accept: text/event-stream)',
    body: restChatSchema,
    responses: { 200: restChatResponseSchema },
    errors: [403, 502, 503, 504],
    alternatives: {
      'text/event-stream':
        'event: chat:ack, then chat:delta per delta, then chat:done or chat:error (see docs/protocol.md)',
    },
  },
  {
    method: 'get',
    path: '/api/conversations/{id}/summary',
    tag: 'summary',
    summary:
      'Summary of a conversation (LLM, extractive when offline), cached until it changes (a history read)',
    params: id,
    responses: { 200: conversationSummarySchema },
  },
  {
    method: 'get',
    path: '/api/chat/summary/{userId}',
    tag: 'summary',
    summary:
      "Summary of a user's most recently active conversation (the caller, or any user for admins)",
    params: userId,
    responses: { 200: conversationSummarySchema },
    errors: [403, 404],
  },
  {
    method: 'get',
    path: '/api/me/profile',
    tag: 'profile',
    summary: "The caller's profile, quoted into prompts ({} until one is stored)",
    responses: { 200: profileResponseSchema },
  },
  {
    method: 'put',
    path: '/api/me/profile',
    tag: 'profile',
    summary: "Replace the caller's profile (a JSON object of at most 8 KB)",
    body: userProfileSchema,
    responses: { 200: profileResponseSchema },
  },
  {
    method: 'get',
    path: '/api/me/usage',
    tag: 'limits',
    summary: "Today's token spend and quota",
    responses: { 200: usageTodaySchema },
  },
];

const toJson = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
  const { $schema: _, ...json } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
  }) as JsonSchema;
  return json;
};

function parameters(op: Operation): JsonSchema[] {
  const path = Object.entries(op.params ?? {}).map(([name, schema]) => ({
    name,
    in: 'path',
    required: true,
    schema: toJson(schema, 'input'),
  }));
  const query = op.query ? toJson(op.query, 'input') : { properties: {}, required: [] };
  const required = new Set((query.required as string[] | undefined) ?? []);
  const queryParams = Object.entries(query.properties as Record<string, JsonSchema>).map(
    ([name, schema]) => ({
      name,
      in: 'query',
      required: required.has(name),
      schema,
    }),
  );
  return [...path, ...queryParams];
}

const count = { type: 'integer', minimum: 0 };

/**
 * IETF RateLimit fields: on routes with a per-user limit (history reads) they describe that one,
 * elsewhere the per-IP limit. Sent on every answer past the IP limiter; a body refused before it
 * (malformed JSON, over the size limit) or a limiter outage answers without them.
 */
function rateLimitHeaders(required: boolean): Record<string, JsonSchema> {
  return {
    'RateLimit-Limit': { description: 'Requests allowed per window', required, schema: count },
    'RateLimit-Remaining': {
      description: 'Requests left in this window',
      required,
      schema: count,
    },
    'RateLimit-Reset': {
      description: 'Seconds until the window resets',
      required,
      schema: count,
    },
  };
}

const retryAfter = (required: boolean): JsonSchema => ({
  description: 'Seconds to wait before trying again',
  required,
  schema: count,
});

/** Error statuses whose envelope may carry `retryAfter`, mirrored in a Retry-After header. */
const RETRYABLE = [429, 502, 503, 504];

/** The headers a response carries: RateLimit-* unless the route is unlimited, Retry-After on retryable errors. */
function headersOf(op: Operation, status: number, isError: boolean): JsonSchema {
  const headers = op.unlimited ? {} : rateLimitHeaders(status < 300 || status === 429);
  return isError && RETRYABLE.includes(status)
    ? { ...headers, 'Retry-After': retryAfter(status === 429) }
    : headers;
}

function responses(op: Operation): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const [status, schema] of Object.entries(op.responses)) {
    const content: Record<string, JsonSchema> = {};
    if (schema) content['application/json'] = { schema: toJson(schema, 'output') };
    for (const [type, description] of Object.entries(op.alternatives ?? {})) {
      content[type] = { schema: { type: 'string', description } };
    }
    out[status] = {
      description: status.startsWith('2') ? 'Success' : 'Degraded',
      headers: headersOf(op, Number(status), false),
      ...(Object.keys(content).length && { content }),
    };
  }
  const errors = new Set(op.errors);
  if (!op.public) errors.add(401);
  if (!op.unlimited) errors.add(429);
  if (op.body) [400, 413].forEach((s) => errors.add(s));
  if (op.params || op.query) errors.add(400);
  if (op.params?.id) errors.add(404);
  for (const status of [...errors].sort()) {
    out[status] = {
      description: 'Error envelope with a stable code',
      headers: headersOf(op, status, true),
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  return out;
}

/** The OpenAPI 3.1 document served at /api/docs-json. */
export function openApiDocument(version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const op of OPERATIONS) {
    paths[op.path] ??= {};
    paths[op.path][op.method] = {
      summary: op.summary,
      tags: [op.tag],
      ...(op.public && { security: [] }),
      parameters: parameters(op),
      ...(op.body && {
        requestBody: {
          required: true,
          content: { 'application/json': { schema: toJson(op.body, 'input') } },
        },
      }),
      responses: responses(op),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Charla',
      version,
      description:
        'Real-time AI chat backend. REST here; the Socket.IO and WebSocket protocol is in docs/protocol.md. ' +
        'Every error answers { error, code, details?, retryAfter?, requestId }.',
    },
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: { Error: toJson(errorBodySchema, 'output') },
    },
    paths,
  };
}

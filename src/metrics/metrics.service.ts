import { Injectable } from '@nestjs/common';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Charla's Prometheus metrics (SPEC §10), one registry per app instance so tests can run several.
 * Gauges that mirror live state are read at scrape time through `track`.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly timeToFirstToken = new Histogram({
    name: 'charla_time_to_first_token_seconds',
    help: 'From a send being accepted to its first delta going out',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  });

  readonly tokensStreamed = new Counter({
    name: 'charla_tokens_streamed_total',
    help: 'Completion tokens streamed to clients (provider-reported or estimated)',
    registers: [this.registry],
  });

  readonly generations = new Counter({
    name: 'charla_generations_total',
    help: 'Replies that ended, by final status',
    labelNames: ['status'],
    registers: [this.registry],
  });

  readonly upstreamErrors = new Counter({
    name: 'charla_upstream_errors_total',
    help: 'Replies that failed upstream, by error code and provider error type',
    labelNames: ['code', 'type'],
    registers: [this.registry],
  });

  readonly rateLimitRejections = new Counter({
    name: 'charla_rate_limit_rejections_total',
    help: 'Requests refused by a rate limit, by limit name',
    labelNames: ['limit'],
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'charla_http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'charla_' });
  }

  /** A gauge whose value is read from live state at each scrape. */
  track(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }
}

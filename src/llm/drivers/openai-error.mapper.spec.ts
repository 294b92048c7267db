import { APIConnectionError, APIError } from 'openai';
import type { LlmResult } from '../llm.provider';
import { retryAfterMs, upstreamError } from './openai-error.mapper';

const PARTIAL: LlmResult = {
  text: 'Hel',
  model: 'm',
  finishReason: 'error',
  usage: { promptTokens: 10, completionTokens: 1, totalTokens: 11, estimated: true },
};

function httpError(status: number, error: object, headers: Record<string, string> = {}): APIError {
  return APIError.generate(status, { error }, undefined, new Headers(headers));
}

describe('upstreamError', () => {
  it('maps a 429 to upstream_error with the provider code as type, its message, and retry-after', () => {
    const error = upstreamError(
      httpError(
        429,
        { message: 'Rate limit exceeded', type: 'requests', code: 'rate_limit_exceeded' },
        { 'retry-after': '2' },
      ),
      PARTIAL,
    );

    expect(error).toMatchObject({
      code: 'upstream_error',
      details: { type: 'rate_limit_exceeded', originalMessage: 'Rate limit exceeded' },
      transient: true,
      retryAfterMs: 2000,
      retryAfter: 2,
      partial: PARTIAL,
    });
  });

  it('falls back to the error type when the code is missing or not a string, and to the status', () => {
    expect(
      upstreamError(
        httpError(400, { message: 'bad', type: 'BadRequestError', code: 400 }),
        PARTIAL,
      ),
    ).toMatchObject({ details: { type: 'BadRequestError' }, transient: false });
    expect(upstreamError(httpError(503, { message: 'overloaded' }), PARTIAL)).toMatchObject({
      details: { type: 'server_error', originalMessage: 'overloaded' },
      transient: true,
    });
  });

  it('treats an error event inside the stream as a transient upstream_error', () => {
    const streamed = new APIError(
      undefined,
      { message: 'model crashed', type: 'internal' },
      undefined,
      undefined,
    );

    expect(upstreamError(streamed, PARTIAL)).toMatchObject({
      code: 'upstream_error',
      details: { type: 'internal', originalMessage: 'model crashed' },
      transient: true,
    });
  });

  it('keeps the address of an unreachable endpoint out of the details', () => {
    const refused = new APIConnectionError({
      cause: new Error('connect ECONNREFUSED 10.0.0.7:8000'),
    });

    const error = upstreamError(refused, PARTIAL);

    expect(error).toMatchObject({
      code: 'upstream_error',
      details: { type: 'connection_error' },
      transient: true,
    });
    expect(JSON.stringify(error.details)).not.toContain('10.0.0.7');
  });

  it("recognises Node fetch's 'terminated' as a lost connection", () => {
    expect(upstreamError(new TypeError('terminated'), PARTIAL)).toMatchObject({
      details: { type: 'connection_error' },
      transient: true,
    });
  });
});

describe('retryAfterMs', () => {
  it('prefers retry-after-ms, then retry-after in seconds or as an HTTP date', () => {
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '150', 'retry-after': '1' }))).toBe(150);
    expect(retryAfterMs(new Headers({ 'retry-after': '3' }))).toBe(3000);
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    expect(retryAfterMs(new Headers({ 'retry-after': inTenSeconds }))).toBeGreaterThan(8000);
  });

  it('is undefined without a usable header', () => {
    expect(retryAfterMs(undefined)).toBeUndefined();
    expect(retryAfterMs(new Headers())).toBeUndefined();
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }))).toBeUndefined();
  });
});

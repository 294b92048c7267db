import { BrokenCircuitError } from 'cockatiel';
import { EndpointPolicy } from './endpoint.policy';
import { LlmStreamError, type UpstreamErrorCode } from './llm.provider';

const SETTINGS = {
  maxRetries: 2,
  retryBaseDelayMs: 1,
  breakerThreshold: 3,
  breakerHalfOpenMs: 100,
};
const PARTIAL = {
  text: '',
  model: 'm',
  finishReason: 'error',
  usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0, estimated: true },
};

function failure(
  code: UpstreamErrorCode,
  options: { transient?: boolean; retryAfterMs?: number } = {},
) {
  return new LlmStreamError(code, 'failed', { type: 't', originalMessage: 'm' }, PARTIAL, options);
}

/** An attempt that fails with `error` every time, counting its calls. */
function failing(error: Error) {
  const attempt = jest.fn(async () => {
    throw error;
  });
  return attempt;
}

describe('EndpointPolicy', () => {
  it('retries transient failures up to maxRetries, then gives up with the last one', async () => {
    const policy = new EndpointPolicy(SETTINGS);
    const error = failure('upstream_error', { transient: true });
    const attempt = failing(error);

    await expect(policy.execute(attempt)).rejects.toBe(error);
    expect(attempt).toHaveBeenCalledTimes(3);
  });

  it('waits as long as a short retry-after asks before retrying', async () => {
    const policy = new EndpointPolicy({ ...SETTINGS, maxRetries: 1 });
    const attempt = failing(failure('upstream_error', { transient: true, retryAfterMs: 120 }));
    const startedAt = Date.now();

    await expect(policy.execute(attempt)).rejects.toBeInstanceOf(LlmStreamError);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(115);
  });

  it('does not retry timeouts, rejections of the request, or a long retry-after', async () => {
    for (const error of [
      failure('upstream_timeout'),
      failure('upstream_error', { transient: false }),
      failure('upstream_error', { transient: true, retryAfterMs: 60_000 }),
    ]) {
      const attempt = failing(error);
      await expect(new EndpointPolicy(SETTINGS).execute(attempt)).rejects.toBe(error);
      expect(attempt).toHaveBeenCalledTimes(1);
    }
  });

  it('opens after consecutive endpoint failures, refuses calls, then lets one probe through', async () => {
    const policy = new EndpointPolicy({ ...SETTINGS, maxRetries: 0 });
    const attempt = failing(failure('upstream_timeout'));
    for (let i = 0; i < 3; i++)
      await expect(policy.execute(attempt)).rejects.toBeInstanceOf(LlmStreamError);

    expect(policy.circuit).toBe('open');
    await expect(policy.execute(attempt)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(attempt).toHaveBeenCalledTimes(3);

    await new Promise((resolve) => setTimeout(resolve, 120));
    await expect(policy.execute(async () => 'answer')).resolves.toBe('answer');
    expect(policy.circuit).toBe('closed');
  });

  it('is not opened by rejections of the request itself', async () => {
    const policy = new EndpointPolicy({ ...SETTINGS, maxRetries: 0 });
    const attempt = failing(failure('upstream_error', { transient: false }));
    for (let i = 0; i < 5; i++)
      await expect(policy.execute(attempt)).rejects.toBeInstanceOf(LlmStreamError);

    expect(policy.circuit).toBe('closed');
  });
});

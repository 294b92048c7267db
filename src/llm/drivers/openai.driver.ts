import OpenAI from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
} from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type { AppConfig, LlmEndpoint } from '../../config/app.config';
import { createLlmStream, forwardAbort } from '../llm-stream';
import type { LlmRequest, LlmResult, LlmStream, TokenUsage } from '../llm.provider';
import type { Tokenizer } from '../tokenizer';
import {
  incompleteStreamError,
  timeoutError,
  upstreamError,
  UpstreamTimeout,
} from './openai-error.mapper';

export type OpenAiDriverSettings = Pick<
  AppConfig['llm'],
  'maxOutputTokens' | 'firstTokenTimeoutMs' | 'idleTimeoutMs'
>;

/**
 * One OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, LM Studio, llama.cpp, OpenRouter, Groq…)
 * through the official SDK: one streaming request per call, with its own first-token and idle
 * timeouts. It never retries: `FailoverProvider` owns retries, circuit breakers and failover.
 */
export class OpenAiDriver {
  private readonly client: OpenAI;
  private readonly outputCap: OutputCapField;
  private readonly firstTokenTimeout: UpstreamTimeout;
  private readonly idleTimeout: UpstreamTimeout;

  constructor(
    readonly endpoint: LlmEndpoint,
    private readonly settings: OpenAiDriverSettings,
    private readonly tokenizer: Tokenizer,
  ) {
    this.client = new OpenAI({
      baseURL: endpoint.baseUrl,
      // Local servers (Ollama, llama.cpp) need no key, but the SDK refuses to start without one.
      apiKey: endpoint.apiKey ?? 'none',
      // Endpoints come from the validated AppConfig only, not from the SDK's own env variables.
      organization: null,
      project: null,
      maxRetries: 0,
      // Failures reach the caller as LlmStreamError and get logged there, as JSON, not on the console.
      logLevel: 'off',
    });
    this.outputCap = outputCapField(endpoint.baseUrl);
    this.firstTokenTimeout = new UpstreamTimeout('first_token', settings.firstTokenTimeoutMs);
    this.idleTimeout = new UpstreamTimeout('idle', settings.idleTimeoutMs);
  }

  stream(request: LlmRequest): LlmStream {
    return createLlmStream(request.signal, (signal) => this.generate(request, signal));
  }

  private async *generate(
    request: LlmRequest,
    signal: AbortSignal,
  ): AsyncGenerator<string, LlmResult, undefined> {
    // Aborting this closes the HTTP request: on the caller's abort, or with an UpstreamTimeout.
    const upstream = new AbortController();
    const unlink = forwardAbort(signal, upstream);
    const reply = new StreamedReply(this.endpoint.model);
    let failure: { error: unknown } | undefined;
    try {
      yield* this.receive(request, upstream, reply);
    } catch (error) {
      failure = { error };
    } finally {
      unlink();
    }
    const stopReason: unknown = upstream.signal.aborted ? upstream.signal.reason : undefined;
    // Close the request whatever happened (a no-op once the response has ended).
    upstream.abort();
    // Why it ended, most telling first: our own timeout, the caller's abort, an error, a cut stream.
    if (stopReason instanceof UpstreamTimeout) {
      throw timeoutError(stopReason, this.partial(request, reply));
    }
    if (signal.aborted) return this.result(request, reply, 'aborted');
    if (failure) throw upstreamError(failure.error, this.partial(request, reply));
    if (!reply.finishReason) throw incompleteStreamError(this.partial(request, reply));
    return this.result(request, reply, reply.finishReason);
  }

  /** Sends the request and yields its content deltas until the stream ends or `upstream` aborts. */
  private async *receive(
    request: LlmRequest,
    upstream: AbortController,
    reply: StreamedReply,
  ): AsyncGenerator<string, void, undefined> {
    const silence = new SilenceTimer(upstream);
    try {
      silence.start(this.firstTokenTimeout);
      const chunks = await this.client.chat.completions.create(this.body(request), {
        signal: upstream.signal,
      });
      for await (const chunk of chunks) {
        const delta = reply.add(chunk);
        if (delta) {
          // Time the consumer spends on a delta is not upstream silence.
          silence.stop();
          yield delta;
          if (upstream.signal.aborted) return;
        }
        silence.start(this.idleTimeout);
      }
    } finally {
      silence.stop();
    }
  }

  private body(request: LlmRequest): ChatCompletionCreateParamsStreaming {
    const cap = request.maxOutputTokens ?? this.settings.maxOutputTokens;
    return {
      model: this.endpoint.model,
      messages: request.messages,
      stream: true,
      // Servers that ignore this never send usage; it is then counted locally (estimated).
      stream_options: { include_usage: true },
      ...(this.outputCap === 'max_tokens' ? { max_tokens: cap } : { max_completion_tokens: cap }),
    };
  }

  private result(request: LlmRequest, reply: StreamedReply, finishReason: string): LlmResult {
    return {
      text: reply.text,
      model: reply.model,
      finishReason,
      usage: this.usage(request, reply),
    };
  }

  private partial(request: LlmRequest, reply: StreamedReply): LlmResult {
    return this.result(request, reply, 'error');
  }

  private usage(request: LlmRequest, reply: StreamedReply): TokenUsage {
    const reported = reply.usage;
    if (!reported) return this.tokenizer.estimateUsage(request.messages, reply.text);
    return {
      promptTokens: reported.prompt_tokens,
      completionTokens: reported.completion_tokens,
      totalTokens: reported.total_tokens ?? reported.prompt_tokens + reported.completion_tokens,
      estimated: false,
    };
  }
}

type OutputCapField = 'max_tokens' | 'max_completion_tokens';

/**
 * OpenAI's own API wants `max_completion_tokens` (its reasoning models reject `max_tokens` with a 400).
 * Many OpenAI-compatible servers (llama.cpp, llama-cpp-python, older vLLM, Ollama and LM Studio) only
 * read `max_tokens` and silently ignore the newer name, which would leave their answers uncapped.
 */
function outputCapField(baseUrl: string | undefined): OutputCapField {
  const official = !baseUrl || new URL(baseUrl).hostname === 'api.openai.com';
  return official ? 'max_completion_tokens' : 'max_tokens';
}

/** What the chunks of one streamed completion add up to so far. */
class StreamedReply {
  text = '';
  finishReason?: string;
  usage?: CompletionUsage;

  constructor(public model: string) {}

  /** Takes in one chunk; returns its content delta, if it has one. */
  add(chunk: ChatCompletionChunk): string | undefined {
    if (chunk.model) this.model = chunk.model;
    if (hasCounts(chunk.usage)) this.usage = chunk.usage;
    // The usage chunk has no choices; some servers omit the array altogether.
    const choice = chunk.choices?.[0];
    if (choice?.finish_reason) this.finishReason = choice.finish_reason;
    const delta = choice?.delta?.content;
    if (!delta) return undefined;
    this.text += delta;
    return delta;
  }
}

function hasCounts(usage: CompletionUsage | null | undefined): usage is CompletionUsage {
  return typeof usage?.prompt_tokens === 'number' && typeof usage.completion_tokens === 'number';
}

/** Aborts the upstream request, with the UpstreamTimeout as its reason, when no chunk arrives in time. */
class SilenceTimer {
  private timer?: NodeJS.Timeout;

  constructor(private readonly upstream: AbortController) {}

  start(timeout: UpstreamTimeout): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.upstream.abort(timeout), timeout.afterMs);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

import type {
  AbortRequest,
  ConversationRef,
  RefreshTokenRequest,
  ResumeRequest,
  SendMessageRequest,
  TypingRequest,
} from './chat.schemas';
import type { ErrorCode } from './error-codes';
import type { MessageDto, SentimentLabel } from './message';

/** The error object of a failed request ack and of `chat:error`. */
export interface WireError {
  code: ErrorCode;
  message: string;
  details?: unknown;
  retryAfter?: number;
}

export type Ack<T> = ({ ok: true } & T) | { ok: false; error: WireError };

export interface SendAck {
  conversationId: string;
  messageId: string;
  replyId: string;
  duplicate: boolean;
}

export type ReplyStatus = 'streaming' | 'complete' | 'aborted' | 'failed' | 'interrupted';

/** Client → server requests: the same names and payloads on Socket.IO and plain WebSocket. */
export interface ClientToServerEvents {
  'chat:send': (data: SendMessageRequest, ack: (res: Ack<SendAck>) => void) => void;
  'chat:abort': (data: AbortRequest, ack: (res: Ack<{ status: ReplyStatus }>) => void) => void;
  'chat:resume': (
    data: ResumeRequest,
    ack: (res: Ack<{ status: ReplyStatus; lastSeq: number }>) => void,
  ) => void;
  'conversation:join': (data: ConversationRef, ack: (res: Ack<object>) => void) => void;
  'conversation:leave': (data: ConversationRef, ack: (res: Ack<object>) => void) => void;
  typing: (data: TypingRequest) => void;
  'auth:refresh': (
    data: RefreshTokenRequest,
    ack: (res: Ack<{ expiresAt: string | null }>) => void,
  ) => void;
}

export interface ChatDelta {
  conversationId: string;
  replyId: string;
  /** Starts at 1 and increases by 1; clients drop any seq they have already seen. */
  seq: number;
  text: string;
}

export interface TypingEvent {
  conversationId: string;
  actor: 'assistant' | 'user';
  userId?: string;
  replyId?: string;
  isTyping: boolean;
}

/** Server → client events (SPEC §4). */
export interface ServerToClientEvents {
  'chat:message': (data: { conversationId: string; message: MessageDto }) => void;
  typing: (data: TypingEvent) => void;
  'chat:delta': (data: ChatDelta) => void;
  'chat:done': (data: { conversationId: string; replyId: string; message: MessageDto }) => void;
  'chat:error': (data: { conversationId: string; replyId: string; error: WireError }) => void;
  sentiment: (data: {
    conversationId: string;
    messageId: string;
    sentiment: { label: SentimentLabel; score: number };
  }) => void;
  'auth:expired': (data: Record<string, never>) => void;
}

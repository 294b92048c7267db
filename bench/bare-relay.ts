/**
 * The baseline of the relay benchmarks: the least a Socket.IO server can do to relay an
 * OpenAI-compatible stream. No auth, no storage, no limits, no coalescing: on `send` it posts to the
 * upstream, and emits one `delta` per SSE chunk and a `done` at the end. Run as its own process:
 * `UPSTREAM_URL=http://127.0.0.1:p/v1 PORT=0 tsx bench/bare-relay.ts`; prints `Listening on <port>`.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';

interface SendRequest {
  id: string;
  content: string;
}

const upstream = process.env.UPSTREAM_URL ?? '';

async function relay(socket: Socket, { id, content }: SendRequest): Promise<void> {
  const response = await fetch(`${upstream}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'bench',
      stream: true,
      messages: [{ role: 'user', content }],
    }),
  });
  const decoder = new TextDecoder();
  let buffered = '';
  let seq = 0;
  for await (const bytes of response.body!) {
    buffered += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) !== -1) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = event.startsWith('data: ') ? event.slice(6) : '';
      if (data === '' || data === '[DONE]') continue;
      const text = JSON.parse(data).choices?.[0]?.delta?.content;
      if (text) socket.emit('delta', { id, seq: ++seq, text });
    }
  }
  socket.emit('done', { id });
}

async function main(): Promise<void> {
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], serveClient: false });
  io.on('connection', (socket) => {
    socket.on('send', (request: SendRequest) => {
      relay(socket, request).catch((err: Error) =>
        socket.emit('failed', { id: request.id, message: err.message }),
      );
    });
  });
  http.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  await once(http, 'listening');
  console.log(`Listening on ${(http.address() as AddressInfo).port}`);
}

void main();

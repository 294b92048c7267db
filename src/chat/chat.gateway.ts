import {
  OnGatewayConnection,
  OnGatewayDisconnect,
  OnGatewayInit,
  WebSocketGateway,
} from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';
import { AppError } from '../common/app.error';
import { toWireError } from './wire-error';
import { ChatConnection } from './chat.connection';
import { ChatHub } from './chat.hub';
import { ChatRequests } from './chat.requests';
import { SocketAdmission } from './socket-admission';

interface SocketData {
  connection: ChatConnection;
}

/**
 * Socket.IO transport, namespace `/chat`. Authenticates every handshake (so every reconnection),
 * registers the socket with the hub, and hands each event to ChatRequests; its result is the ack.
 */
@WebSocketGateway({ namespace: '/chat' })
export class ChatGateway
  implements OnGatewayInit<Namespace>, OnGatewayConnection<Socket>, OnGatewayDisconnect<Socket>
{
  constructor(
    private readonly admission: SocketAdmission,
    private readonly hub: ChatHub,
    private readonly requests: ChatRequests,
  ) {}

  afterInit(namespace: Namespace): void {
    namespace.use((socket, next) => {
      const { query, auth } = socket.handshake;
      this.admission
        .admit(socket.request, query, auth)
        .then((user) => {
          if (!user)
            throw new AppError(
              'unauthorized',
              'Send the token as auth: { token } or an Authorization header',
            );
          const transport = {
            emit: (event: string, data: unknown) => socket.emit(event, data),
            disconnect: () => socket.disconnect(true),
          };
          (socket.data as SocketData).connection = new ChatConnection(transport, user);
          next();
        })
        .catch((err: unknown) => {
          // The client sees connect_error with this message and `data: { code, message }`.
          const wire = toWireError(err);
          next(Object.assign(new Error(wire.message), { data: wire }));
        });
    });
  }

  handleConnection(socket: Socket): void {
    const { connection } = socket.data as SocketData;
    this.hub.add(connection);
    socket.onAny((event: string, ...args: unknown[]) => {
      const ack =
        typeof args.at(-1) === 'function' ? (args.pop() as (response: unknown) => void) : undefined;
      void this.requests.handle(connection, event, args[0]).then(({ ack: response, afterAck }) => {
        if (response) ack?.(response);
        afterAck?.();
      });
    });
  }

  handleDisconnect(socket: Socket): void {
    const { connection } = socket.data as Partial<SocketData>;
    if (connection) this.hub.remove(connection);
  }
}

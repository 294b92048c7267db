import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { ServerOptions } from 'socket.io';
import type { AppConfig } from '../config/app.config';

/** Socket.IO server options Charla needs, whatever a gateway's decorator says. */
export class ChatIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions) {
    return super.createIOServer(port, {
      ...options,
      // 64 KB per packet: a larger one closes only the socket that sent it.
      maxHttpBufferSize: this.config.http.bodyLimitBytes,
      // /ws upgrades on the same HTTP server belong to the plain-WebSocket gateway.
      destroyUpgrade: false,
      cors: { origin: true, credentials: true },
    });
  }
}

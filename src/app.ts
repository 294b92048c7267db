import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { ChatIoAdapter } from './chat/chat-io.adapter';
import { serveApiDocs } from './docs/docs';
import type { AppConfig } from './config/app.config';

/** Builds the whole application; `main.ts` and the e2e tests start exactly this. */
export async function createApp(config: AppConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  app.useWebSocketAdapter(new ChatIoAdapter(app, config));
  app.useBodyParser('json', { limit: config.http.bodyLimitBytes });
  app.set(
    'trust proxy',
    config.limits.trustedProxies.length ? config.limits.trustedProxies : false,
  );
  app.disable('x-powered-by');
  app.enableCors();
  app.enableShutdownHooks();
  serveApiDocs(app);
  return app;
}

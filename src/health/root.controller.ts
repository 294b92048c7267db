import { Controller, Get } from '@nestjs/common';
import { version } from '../../package.json';
import { Public } from '../auth/public.decorator';

/** `GET /`: what this is and where to go next (seed 001 shape). */
@Public()
@Controller()
export class RootController {
  @Get()
  root() {
    return {
      message: 'Charla - real-time AI chat backend',
      version,
      status: 'operational',
      documentation: '/api/docs',
      endpoints: {
        health: 'GET /api/health',
        conversations: 'GET /api/conversations',
        messages: 'GET /api/conversations/:id/messages',
        socketIo: 'namespace /chat at path /socket.io',
        websocket: '/ws',
      },
    };
  }
}

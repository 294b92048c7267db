import { Module } from '@nestjs/common';
import { ChatHub } from './chat.hub';

/** The socket hub alone, so features that push events (sentiment) need not import the whole chat. */
@Module({ providers: [ChatHub], exports: [ChatHub] })
export class ChatHubModule {}

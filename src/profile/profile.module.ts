import { Module } from '@nestjs/common';
import { ProfileController } from './profile.controller';
import { ProfileService } from './profile.service';

/** `GET|PUT /api/me/profile`: what prompts know about the user. */
@Module({ controllers: [ProfileController], providers: [ProfileService] })
export class ProfileModule {}

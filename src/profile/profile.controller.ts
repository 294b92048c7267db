import { Body, Controller, Get, Put } from '@nestjs/common';
import {
  MAX_PROFILE_BYTES,
  userProfileSchema,
  type ProfileResponse,
  type UserProfile,
} from '@charla/contracts';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { JsonSizePipe } from './json-size.pipe';
import { ProfileService } from './profile.service';

@Controller('api/me/profile')
export class ProfileController {
  constructor(private readonly profiles: ProfileService) {}

  /** The caller's profile: `{}` and a null `updatedAt` until one is stored. */
  @Get()
  get(@CurrentUser() user: AuthUser): Promise<ProfileResponse> {
    return this.profiles.get(user.id);
  }

  /** Replaces the caller's profile: 413 beyond 8 KB of JSON, 400 for a field the schema lacks. */
  @Put()
  replace(
    @CurrentUser() user: AuthUser,
    @Body(new JsonSizePipe(MAX_PROFILE_BYTES), new ZodValidationPipe(userProfileSchema))
    profile: UserProfile,
  ): Promise<ProfileResponse> {
    return this.profiles.replace(user.id, profile);
  }
}

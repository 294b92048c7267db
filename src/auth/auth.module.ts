import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { JwtAuthGuard } from './jwt-auth.guard';
import { JwtStrategy } from './jwt.strategy';
import { JwtVerifier } from './jwt.verifier';

@Module({
  imports: [PassportModule],
  providers: [JwtStrategy, JwtVerifier, { provide: APP_GUARD, useClass: JwtAuthGuard }],
  exports: [JwtVerifier],
})
export class AuthModule {}

import { z } from 'zod';

/** A stored profile is at most this much JSON (measured compactly, like a message's `context`). */
export const MAX_PROFILE_BYTES = 8 * 1024;

export const RISK_PROFILES = ['conservative', 'moderate', 'aggressive'] as const;

const text = (max: number) =>
  z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
const list = (itemMax: number, max: number) =>
  z.array(text(itemMax)).max(max, `must have at most ${max} items`);

/**
 * `PUT /api/me/profile`: what the customer's app tells Charla about a user, quoted into every prompt
 * as data. The whole profile is replaced; unknown fields are refused.
 */
export const userProfileSchema = z.strictObject({
  name: text(100).optional(),
  /** BCP 47 language tag, e.g. `es-AR`. */
  locale: z
    .string()
    .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'must be a BCP 47 language tag like es-AR')
    .optional(),
  /** IANA time zone, e.g. `America/Argentina/Buenos_Aires`. */
  timezone: text(64).optional(),
  about: text(1000).optional(),
  goals: list(300, 20).optional(),
  interests: list(100, 30).optional(),
  riskProfile: z.enum(RISK_PROFILES).optional(),
  /** Tickers the user follows (seed 003's "acciones favoritas"). */
  favoriteSymbols: list(20, 50).optional(),
  /** Free-form settings such as `{ "tone": "informal", "units": "metric" }`. */
  preferences: z
    .record(
      z.string().min(1).max(64),
      z.union([z.string().max(500), z.number(), z.boolean()]),
      'must be an object of strings, numbers or booleans',
    )
    .refine((v) => Object.keys(v).length <= 50, 'must have at most 50 entries')
    .optional(),
});
export type UserProfile = z.infer<typeof userProfileSchema>;

/** `GET|PUT /api/me/profile`: an empty profile and a null `updatedAt` until one is stored. */
export const profileResponseSchema = z.object({
  profile: userProfileSchema,
  updatedAt: z.iso.datetime().nullable(),
});
export type ProfileResponse = z.infer<typeof profileResponseSchema>;

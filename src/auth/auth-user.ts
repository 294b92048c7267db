/** Who is calling, from a verified JWT. `id` is the token's `sub`. */
export interface AuthUser {
  id: string;
  isAdmin: boolean;
  /** Token expiry (ms since epoch), when the token has one. */
  expiresAt?: number;
}

/** Owners reach their own data; admins (dashboards) reach anyone's. */
export function canAccess(user: AuthUser, ownerId: string): boolean {
  return user.isAdmin || user.id === ownerId;
}

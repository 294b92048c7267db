import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'charla:public';

/** Marks a route that needs no token (root, health, docs, metrics). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

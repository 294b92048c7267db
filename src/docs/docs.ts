import type { INestApplication } from '@nestjs/common';
import { SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { version } from '../../package.json';
import { openApiDocument } from './openapi.document';

/** Swagger UI at /api/docs and the document at /api/docs-json. */
export function serveApiDocs(app: INestApplication): void {
  SwaggerModule.setup('api/docs', app, openApiDocument(version) as unknown as OpenAPIObject, {
    jsonDocumentUrl: 'api/docs-json',
    customSiteTitle: 'Charla API',
  });
}

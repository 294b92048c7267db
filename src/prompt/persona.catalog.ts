import { Injectable } from '@nestjs/common';
import { PERSONAS } from '@charla/contracts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

type Persona = (typeof PERSONAS)[number];

/** The system prompts of the personas, read once from `personas/*.md`. */
@Injectable()
export class PersonaCatalog {
  private readonly prompts = new Map<string, string>(
    PERSONAS.map((p: Persona) => [
      p,
      readFileSync(join(__dirname, 'personas', `${p}.md`), 'utf8').trim(),
    ]),
  );

  /** A persona's system prompt; the default one for a name that is not (or no longer) known. */
  systemPrompt(persona: string): string {
    return this.prompts.get(persona) ?? this.prompts.get('default')!;
  }
}

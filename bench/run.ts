/**
 * `npm run bench`: runs SPEC §11's benchmarks and writes `bench/REPORT.md`.
 * `npm run bench -- relay` or `-- history` runs one group (the report then has only that group).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { historyBench } from './history.bench';
import { relayBench } from './relay.bench';
import { renderReport, type Section } from './report';

const GROUPS: Record<string, () => Promise<Section[]>> = {
  relay: relayBench,
  history: async () => [await historyBench()],
};

async function main(): Promise<void> {
  const chosen = process.argv.slice(2);
  const names = chosen.length ? chosen : Object.keys(GROUPS);
  const sections: Section[] = [];
  for (const name of names) {
    const run = GROUPS[name];
    if (!run)
      throw new Error(`unknown benchmark "${name}"; known: ${Object.keys(GROUPS).join(', ')}`);
    console.log(`bench: ${name}…`);
    const started = Date.now();
    sections.push(...(await run()));
    console.log(`bench: ${name} took ${Math.round((Date.now() - started) / 1000)} s`);
  }
  const report = renderReport(sections, {
    date: new Date().toISOString(),
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD']).toString().trim(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`,
  });
  const path = resolve(__dirname, 'REPORT.md');
  writeFileSync(path, report);
  console.log(report);
  const missed = sections.flatMap((s) => s.figures).filter((f) => f.met === false);
  console.log(`bench: report written to ${path}; ${missed.length} target(s) not met`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

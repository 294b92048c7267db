/**
 * What every benchmark returns, and how the runner turns the results into `bench/REPORT.md`.
 * A figure is compared with a baseline measured in the same run (SPEC §11), so that it still means
 * something on a noisy two-core machine; the target says which way is good.
 */
export interface Figure {
  /** What was measured, e.g. "tokens/s, 20 streams, unbatched". */
  name: string;
  /** Charla's value. */
  value: number;
  /** The baseline's value in the same run, when the target is a ratio. */
  baseline?: number;
  unit: string;
  /** e.g. "ratio ≥ 0.85" or "≤ 2 ms"; the check below decides it. */
  target: string;
  /** Whether the target was met; absent for a figure given for information. */
  met?: boolean;
}

export interface Section {
  title: string;
  /** How it was measured: the setup, what the baseline is, and anything a reader must know. */
  method: string;
  figures: Figure[];
}

/** value / baseline, as the figure for "≥ k × baseline" targets. */
export function ratio(value: number, baseline: number): number {
  return baseline === 0 ? Number.POSITIVE_INFINITY : value / baseline;
}

/** The p-th percentile (0-100) of `values`, by nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

const round = (n: number) =>
  !Number.isFinite(n) ? String(n) : Math.abs(n) >= 100 ? n.toFixed(0) : n.toPrecision(3);

export function renderReport(sections: Section[], meta: Record<string, string>): string {
  const lines = [
    '# Charla benchmark report',
    '',
    'Written by `npm run bench` (see `bench/README.md`). Figures are ratios against a baseline run in',
    'the same process tree, or latencies next to the baseline’s, so they hold on a noisy machine.',
    '',
    ...Object.entries(meta).map(([k, v]) => `- ${k}: ${v}`),
  ];
  for (const section of sections) {
    lines.push('', `## ${section.title}`, '', section.method, '');
    lines.push(
      '| figure | Charla | baseline | ratio | target | met |',
      '|---|---|---|---|---|---|',
    );
    for (const f of section.figures) {
      const baseline = f.baseline === undefined ? '' : `${round(f.baseline)} ${f.unit}`;
      const r = f.baseline === undefined ? '' : round(ratio(f.value, f.baseline));
      lines.push(
        `| ${f.name} | ${round(f.value)} ${f.unit} | ${baseline} | ${r} | ${f.target} | ${f.met === undefined ? '' : f.met ? 'yes' : '**no**'} |`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

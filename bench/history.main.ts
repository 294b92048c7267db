/** Runs the history benchmark alone (`npx tsx bench/history.main.ts`) and prints its section. */
import { historyBench } from './history.bench';
import { renderReport } from './report';

historyBench().then(
  (section) => console.log(renderReport([section], {})),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

// Every part of the store contract, in the order the suite runs them.
import type { ConformancePart } from './harness.js';
import { greylistConformance } from './greylist.js';
import { historyConformance } from './history.js';
import { listsConformance } from './lists.js';
import { recipientsConformance } from './recipients.js';
import { bansConformance } from './bans.js';
import { strikesConformance } from './strikes.js';
import { bayesConformance } from './bayes.js';

export const PARTS: ConformancePart[] = [
  greylistConformance,
  strikesConformance,
  bansConformance,
  listsConformance,
  recipientsConformance,
  bayesConformance,
  historyConformance,
];

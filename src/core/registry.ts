// The one list of checks, in the order they run (cheapest first). A new check is added here.
import type { CheckDescriptor } from './check.js';
import { greylistCheck } from '../checks/envelope/greylist/greylist.js';

export const CHECKS: readonly CheckDescriptor[] = [greylistCheck];

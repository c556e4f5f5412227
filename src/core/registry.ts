// The one list of checks, in the order they run (cheapest first; checks marked afterScoring, such
// as greylisting, run after all the others). A new check is added here.
import type { CheckDescriptor } from './check.js';
import { bansCheck } from '../checks/envelope/bans.js';
import { listsCheck } from '../checks/envelope/lists.js';
import { greylistCheck } from '../checks/envelope/greylist/greylist.js';
import { heloCheck } from '../checks/envelope/helo.js';
import { rdnsCheck } from '../checks/envelope/rdns.js';
import { relayCheck } from '../checks/envelope/relay.js';
import { recipientsCheck } from '../checks/envelope/recipients.js';
import { senderCheck } from '../checks/envelope/sender.js';
import { dnsblCheck } from '../checks/envelope/dnsbl.js';
import { spamtrapsCheck } from '../checks/envelope/spamtraps.js';
import { strikesCheck } from '../checks/envelope/strikes.js';
import { attachmentsCheck } from '../checks/content/attachments.js';
import { mimeProblemsCheck } from '../checks/content/mime-problems.js';
import { headersCheck } from '../checks/content/headers.js';
import { htmlCheck } from '../checks/content/html.js';
import { linksCheck } from '../checks/content/links.js';
import { userRulesCheck } from '../checks/content/user-rules.js';
import { uriblCheck } from '../checks/content/uribl.js';
import { bayesCheck } from '../checks/content/bayes.js';

// Bans first (one in-memory lookup), then allow/block lists (an allow stops every later check).
export const CHECKS: readonly CheckDescriptor[] = [
  bansCheck,
  // End of message only: the attachment policy applies even to allowed senders (a partner's
  // hijacked account sends executables too), so it comes before the lists.
  attachmentsCheck,
  listsCheck,
  spamtrapsCheck,
  relayCheck,
  recipientsCheck,
  heloCheck,
  rdnsCheck,
  senderCheck,
  dnsblCheck,
  greylistCheck,
  // End of message: content checks, after the lists (an allowed sender's message is not judged on its content).
  mimeProblemsCheck,
  headersCheck,
  htmlCheck, // parses the HTML once for the checks after it
  linksCheck,
  userRulesCheck,
  uriblCheck, // DNS
  bayesCheck, // token database lookups: last
  strikesCheck, // runs at no stage: it counts the faults of every decision afterwards
];

// The administrator's own rules (content.rules), as SpamAssassin users write them: a regular
// expression on the decoded values of one header, on the body text (text parts and the visible text
// of HTML parts, whitespace collapsed: src/content/body.ts), or on each URL of the message (as a
// browser reads it: lower-case host, WHATWG serialisation). A rule that matches adds its symbol
// with its score, once per message. Regexes are compiled once per configuration, with the
// configured flags plus u (as the configuration check validated them).
import type { CheckDescriptor, CheckOutcome, SymbolHit } from '../../core/check.js';
import { headerValues, type ParsedMessage } from '../../core/message.js';
import type { Config } from '../../config/schema.js';
import { bodyTextOf } from '../../content/body.js';
import { urlsOf } from '../../content/urls.js';

type RuleConfig = Config['content']['rules'][number];

/** Longest matched text quoted in a description, in characters. */
const EXCERPT_CHARS = 60;

interface CompiledRule {
  config: RuleConfig;
  pattern: RegExp;
  /** What the rule reads, for descriptions: "header Subject", "body", "URL". */
  target: string;
  /** The texts the rule is matched against, in order. */
  texts: (message: ParsedMessage) => readonly string[];
}

function compileRule(rule: RuleConfig): CompiledRule {
  const flags = [...new Set([...rule.flags, 'u'])].join('');
  const pattern = new RegExp(rule.pattern, flags);
  if (rule.header !== undefined) {
    const header = rule.header;
    return { config: rule, pattern, target: `header ${header}`, texts: (message) => headerValues(message, header) };
  }
  if (rule.body) return { config: rule, pattern, target: 'body', texts: (message) => [bodyTextOf(message)] };
  return { config: rule, pattern, target: 'URL', texts: (message) => urlsOf(message).map((url) => url.href) };
}

function evaluateRule(rule: CompiledRule, message: ParsedMessage): SymbolHit | undefined {
  for (const text of rule.texts(message)) {
    const match = rule.pattern.exec(text);
    if (!match) continue;
    const matched = match[0].length > EXCERPT_CHARS ? `${match[0].slice(0, EXCERPT_CHARS)}…` : match[0];
    const description = rule.config.description ?? `${rule.target} matches /${rule.config.pattern}/`;
    return { name: rule.config.name, score: rule.config.score, description: `${description}: "${matched}"` };
  }
  return undefined;
}

export const userRulesCheck: CheckDescriptor = {
  name: 'content-rules',
  stages: ['eom'],
  timeoutMs: 5_000,
  create: ({ config }) => {
    if (!config.content.enabled || config.content.rules.length === 0) return undefined;
    const rules = config.content.rules.map(compileRule);
    return {
      evaluate: (task): CheckOutcome | undefined => {
        const message = task.message;
        if (!message) return undefined;
        const symbols = rules.map((rule) => evaluateRule(rule, message)).filter((s): s is SymbolHit => s !== undefined);
        return symbols.length > 0 ? { symbols } : undefined;
      },
    };
  },
};

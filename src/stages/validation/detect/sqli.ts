/**
 * SQL injection: the shapes an injected fragment takes when it breaks out of a string literal or
 * a numeric context (tautologies, comments that cut the rest of the query, stacked statements,
 * UNION SELECT, time-based probes, catalogue and file functions). Heuristics in the spirit of
 * libinjection's fingerprints; tuned so that apostrophes in names (O'Brien) and prose pass. Every
 * expression below is free of nested or adjacent ambiguous quantifiers: linear on any input.
 */
const Q = `['"\`]`;
const TAUTOLOGY = new RegExp(
  `${Q}\\s*\\)*\\s*(?:or|and|xor|\\|\\||&&)\\s*\\(*\\s*(?:${Q}?\\w{0,20}${Q}?\\s*(?:=|<>|!=|<=?|>=?|\\blike\\b|\\brlike\\b|\\bregexp\\b)|\\d+\\s*(?:--|#|;|$)|(?:true|false|null)\\b|(?:not\\s+)?exists\\s*\\(|select\\b|sleep\\s*\\(|\\d+\\s+between\\b)`,
);
const QUOTE_COMMENT = new RegExp(`${Q}\\)*(?:--|#|/\\*)|${Q}\\s*\\)*\\s*(?:--|#)\\s*-?\\s*$`);
const QUOTE_STACKED = new RegExp(`${Q}\\s*\\)*\\s*;\\s*(?:drop|select|insert|update|delete|truncate|alter|create|exec|execute|declare|shutdown|grant|union)\\b`);
const UNION_SELECT = /\bunion(?:\s+all|\s+distinct)?\s+\(*\s*select\b\s*[\w*@'"(,.`-]/;
const STACKED = /;\s*(?:drop\s+(?:table|database|schema|user)\b|truncate\s+table\b|delete\s+from\b|insert\s+into\b|update\s+\w{1,64}\s+set\b|shutdown\b|exec(?:ute)?\s+(?:xp_|sp_|master\.)|create\s+(?:table|user|login)\b|alter\s+(?:table|user)\b)/;
const FUNCTIONS = /\b(?:sleep|pg_sleep|benchmark)\s*\(\s*\d|\bwaitfor\s+(?:delay|time)\s+['"]|\bdbms_pipe\.receive_message\s*\(|\butl_inaddr\.|\bload_file\s*\(|\binto\s+(?:out|dump)file\b|\bxp_cmdshell\b|\binformation_schema\b|\bsysobjects\b|\bpg_catalog\b|@@(?:version|datadir|hostname)\b|\bextractvalue\s*\(|\bupdatexml\s*\(|\bchar\s*\(\s*\d{1,3}(?:\s*,\s*\d{1,3}){2}/;
const NUMERIC_TAUTOLOGY = /\b(?:or|and)\s+(\d{1,10})\s*=\s*\1\b/;
/** Cheap pre-filter: none of the rules can match without one of these. */
const SUSPECT = /['"`;#@]|--|\/\*|\bunion\b|\b(?:or|and)\s+\d|sleep|benchmark|waitfor|load_file|outfile|dumpfile|xp_|information_schema|sysobjects|pg_catalog|extractvalue|updatexml|dbms_|utl_|char\s*\(/;

export function looksLikeSqlInjection(lower: string): boolean {
  if (!SUSPECT.test(lower)) return false;
  // MySQL comments between tokens (UNION/**/SELECT, /*!50000UNION*/) read as whitespace.
  const t = lower.includes('/*') ? lower.replace(/\/\*!?\d{0,6}/g, ' ').replaceAll('*/', ' ') : lower;
  return TAUTOLOGY.test(t) || QUOTE_COMMENT.test(lower) || QUOTE_STACKED.test(t) || UNION_SELECT.test(t) || STACKED.test(t) || FUNCTIONS.test(t) || NUMERIC_TAUTOLOGY.test(t);
}

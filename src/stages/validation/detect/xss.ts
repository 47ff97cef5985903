/**
 * Cross-site scripting: markup that runs script when a value lands in a page — script-capable
 * elements, event-handler attributes, script URLs, CSS expressions — looked for in the value as
 * sent and after HTML-entity and percent decoding. Plain comparisons ("a < b"), emoticons and
 * prose about JavaScript pass. Linear: tags are examined one at a time, each up to its `>`.
 */
const DANGEROUS_TAG = /<\s*\/?\s*(?:script|iframe|frame|frameset|object|embed|applet|svg|math|link|meta|style|base|form|template|portal|xml|isindex|noscript|xss)\b/;
const HANDLER = /[\s/"'`]on[a-z]{3,}\s*=/;
const ATTRIBUTE_BREAKOUT = /["'`]\s*[/\s]\s*(?:autofocus\s+)?on[a-z]{3,}\s*=/;
const SCRIPT_URL = /(?:^|[=("'`]\s*)(?:java|vb|live)script:|(?:^|[=("'`]\s*)data:(?:text\/html|image\/svg\+xml|application\/(?:x-)?javascript)|:\s*expression\s*\(|-moz-binding\s*:|\bsrcdoc\s*=/;
const SUSPECT = /[<>"'`=:]/;

export function looksLikeXss(lower: string): boolean {
  if (!SUSPECT.test(lower)) return false;
  if (DANGEROUS_TAG.test(lower) || ATTRIBUTE_BREAKOUT.test(lower)) return true;
  // Browsers drop tabs and line breaks inside a URL scheme (java\tscript:).
  if (SCRIPT_URL.test(/[\t\n\r\0]/.test(lower) ? lower.replace(/[\t\n\r\0]/g, '') : lower)) return true;
  for (let i = lower.indexOf('<'); i !== -1; i = lower.indexOf('<', i + 1)) {
    const next = lower.charCodeAt(i + 1);
    if (!((next >= 0x61 && next <= 0x7a) || next === 0x2f || next === 0x21)) continue; // <letter, </, <!
    const close = lower.indexOf('>', i);
    const tag = lower.slice(i, close === -1 ? Math.min(lower.length, i + 2048) : Math.min(close, i + 2048));
    if (HANDLER.test(tag)) return true;
  }
  return false;
}

/**
 * Server-rendered pages: every value is escaped where it is interpolated, no inline script or
 * style (the CSP forbids both), one stylesheet and one small script served from /auth/assets.
 */
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"'`]/g, (c) => ESCAPES[c] as string);
}

/** A trusted fragment (built by these templates only). */
export class Html {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

/** Tagged template: interpolations are escaped unless they are Html fragments (or arrays of them). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

function render(v: unknown): string {
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === undefined || v === null || v === false) return '';
  return esc(v);
}

export interface PageOptions {
  readonly title: string;
  readonly assets: string;
  readonly body: Html;
  /** Loads /auth/assets/rampart.js (auto-submit of form_post, nothing else). */
  readonly script?: boolean;
}

export function page(o: PageOptions): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${o.title} · Rampart</title>
<link rel="stylesheet" href="${o.assets}/rampart.css">
${o.script ? html`<script src="${o.assets}/rampart.js" defer></script>` : ''}
</head>
<body>
<main class="card">
<p class="brand">Rampart</p>
${o.body}
</main>
</body>
</html>
`.value;
}

export function hidden(name: string, value: string): Html {
  return html`<input type="hidden" name="${name}" value="${value}">`;
}

export function errorNote(message: string | undefined): Html {
  return message ? html`<p class="error" role="alert">${message}</p>` : html``;
}

/** Markup produced by a trusted generator (the QR code SVG), inserted as is. */
export function trusted(markup: string): Html {
  return new Html(markup);
}

/**
 * The one stylesheet of the consent pages, served as /assets/pages.css (a
 * file, not inline styles, so the CSP allows `style-src 'self'` only). Text
 * and controls meet WCAG AA contrast; form buttons are at least 44px high.
 */
export const PAGES_CSS = `
:root{--fg:#1a1a1a;--bg:#fff;--muted:#4a4a4a;--accent:#0b57d0;--ok:#0a6b2d;--bad:#a4141b;--line:#c8c8c8}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:46rem;margin:0 auto;padding:1rem}
.top{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:.5rem;padding:.75rem 1rem;border-bottom:1px solid var(--line)}
.brand{font-weight:700;color:var(--fg);text-decoration:none}
.who{margin-right:.5rem;color:var(--muted)}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem;z-index:1}
a{color:var(--accent)}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
h1{font-size:1.6rem}h2{font-size:1.25rem}h3{font-size:1.05rem}
.cards{list-style:none;padding:0}.cards li{border:1px solid var(--line);border-radius:6px;padding:.75rem 1rem;margin:.75rem 0}
.cards h2{margin:0}
.status{display:inline-block;padding:0 .5rem;border-radius:1rem;border:1px solid currentColor;font-size:.9rem}
.status-active{color:var(--ok)}.status-revoked,.status-consent_required{color:var(--bad)}.status-not_linked{color:var(--muted)}
.notice{border-left:4px solid var(--accent);padding:.5rem .75rem;background:#eef3fc}
.notice.ok{border-color:var(--ok);background:#e9f5ee}.notice.error{border-color:var(--bad);background:#fbeaea}
.op{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;color:var(--muted);word-break:break-all}
fieldset{border:1px solid var(--line);border-radius:6px;margin:.75rem 0;padding:.5rem 1rem}
legend{font-weight:600;padding:0 .25rem}
.check{display:flex;gap:.5rem;align-items:flex-start;margin:.5rem 0}
.check input{width:1.25rem;height:1.25rem;margin-top:.15rem;flex:none}
button{font:inherit;padding:.6rem 1rem;min-height:44px;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer;margin:.25rem 0}
a.button{display:inline-block;font:inherit;padding:.6rem 1rem;min-height:44px;border-radius:6px;border:1px solid var(--accent);text-decoration:none;margin:.25rem 0}
button.danger,a.button.danger{background:#fff;color:var(--bad);border-color:var(--bad)}
button.secondary,a.button.secondary{background:#fff;color:var(--accent)}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;align-items:center}
.request{border:2px solid var(--accent);border-radius:6px;padding:.25rem 1rem;margin:1rem 0}.request h2{margin-top:.5rem}
.limits{color:var(--muted);font-size:.9rem}
button.link{background:none;border:none;color:var(--accent);text-decoration:underline;min-height:auto;padding:0}
.inline{display:inline}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dd{margin:0}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
caption{text-align:left;color:var(--muted);padding:.25rem 0}
th,td{text-align:left;vertical-align:top;padding:.4rem .5rem;border-bottom:1px solid var(--line)}
thead th{border-bottom:2px solid var(--fg)}
ul.plain{list-style:none;margin:0;padding:0}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
`;

import { describe, expect, it } from 'vitest';
import { html } from '../../../../src/linking/pages/html.js';

describe('html templates', () => {
  it('escapes every interpolated value unless it is html itself', () => {
    const name = `"><script>alert('x')</script>&\``;
    expect(html`<p title="${name}">${name}${html`<b>ok</b>`}${[name, html`<i>x</i>`]}${undefined}${false}${0}</p>`.value).toBe(
      '<p title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&#96;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&#96;<b>ok</b>&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&#96;<i>x</i>0</p>',
    );
  });
});

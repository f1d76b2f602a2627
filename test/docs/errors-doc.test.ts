/** Every stable error code used in the sources is documented in docs/errors.md. */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('docs/errors.md', () => {
  it('lists every NFQ_ code the sources use', () => {
    const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
    const used = new Set<string>();
    for (const f of [...tsFiles(join(root, 'src')), ...tsFiles(join(root, 'tools'))]) {
      for (const m of readFileSync(f, 'utf8').matchAll(/'(NFQ_[A-Z0-9_]*[A-Z0-9])'/g)) used.add(m[1]!);
    }
    const missing = [...used].filter((c) => !doc.includes(`\`${c}\``));
    assert.deepEqual(missing, [], `undocumented codes: ${missing.join(', ')}`);
  });
});

/** Reading the generation a previous run left in its rules, from both renderings. */
import { strict as assert } from 'node:assert';
import { generationInRules } from '../../src/dataplane/apply';
import { markLayout } from '../../src/dataplane/marks';
import { renderIptables } from '../../src/dataplane/render-iptables';
import { renderNft } from '../../src/dataplane/render-nft';
import { fullPlan } from './plans';

describe('dataplane: generation of installed rules', () => {
  for (const mask of [undefined, 0xffff8000, 0x00007fff]) {
    const layout = markLayout(mask);
    for (const generation of [1, 2, 17, 63]) {
      it(`finds generation ${generation} in the nft and iptables renderings (mask ${mask === undefined ? 'default' : `0x${mask.toString(16)}`})`, () => {
        const plan = fullPlan({ marks: layout, generation });
        assert.equal(generationInRules(renderNft(plan), layout), generation);
        assert.equal(generationInRules(renderIptables(plan, 4), layout), generation);
        assert.equal(generationInRules(renderIptables(plan, 6), layout), generation);
      });
    }
  }

  it('finds nothing in unrelated rules or an empty ruleset', () => {
    const layout = markLayout();
    assert.equal(generationInRules('', layout), null);
    assert.equal(generationInRules('-A FORWARD -m mark --mark 0x1/0x1 -j ACCEPT', layout), null);
  });
});

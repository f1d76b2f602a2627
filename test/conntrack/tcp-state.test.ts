import { strict as assert } from 'node:assert';
import {
  TCP_INITIAL_STATUS,
  TcpAction,
  TcpState,
  TcpStatusBit,
  tcpCanStart,
  tcpFlagsValid,
  tcpIndex,
  tcpStateName,
  tcpStep,
  type TcpTracked,
} from '../../src/conntrack';
import { tcpFlags } from '../../src/packet';

const O = 0; // original direction
const R = 1; // reply direction

type Step = [dir: 0 | 1, flags: string, action: keyof typeof TcpAction, state: keyof typeof TcpState];

interface Sequence {
  name: string;
  steps: Step[];
}

/** Each sequence starts from a fresh entry in NONE, as the flow table creates it. */
const sequences: Sequence[] = [
  {
    name: 'three-way handshake',
    steps: [
      [O, 'S', 'ACCEPT', 'SYN_SENT'],
      [R, 'SA', 'ACCEPT', 'SYN_RECV'],
      [O, 'A', 'ACCEPT', 'ESTABLISHED'],
      [O, 'PA', 'ACCEPT', 'ESTABLISHED'],
      [R, 'A', 'ACCEPT', 'ESTABLISHED'],
    ],
  },
  {
    name: 'SYN retransmitted',
    steps: [
      [O, 'S', 'ACCEPT', 'SYN_SENT'],
      [O, 'S', 'ACCEPT', 'SYN_SENT'],
      [R, 'SA', 'ACCEPT', 'SYN_RECV'],
      [R, 'SA', 'IGNORE', 'SYN_RECV'],
    ],
  },
  {
    name: 'client closes first',
    steps: [
      [O, 'S', 'ACCEPT', 'SYN_SENT'],
      [R, 'SA', 'ACCEPT', 'SYN_RECV'],
      [O, 'A', 'ACCEPT', 'ESTABLISHED'],
      [O, 'FA', 'ACCEPT', 'FIN_WAIT'],
      [R, 'A', 'ACCEPT', 'CLOSE_WAIT'],
      [R, 'FA', 'ACCEPT', 'LAST_ACK'],
      [O, 'A', 'ACCEPT', 'TIME_WAIT'],
      [O, 'A', 'ACCEPT', 'TIME_WAIT'],
    ],
  },
  {
    name: 'server closes first, FINs cross',
    steps: [
      [O, 'S', 'ACCEPT', 'SYN_SENT'],
      [R, 'SA', 'ACCEPT', 'SYN_RECV'],
      [O, 'A', 'ACCEPT', 'ESTABLISHED'],
      [R, 'FA', 'ACCEPT', 'FIN_WAIT'],
      [O, 'FA', 'ACCEPT', 'LAST_ACK'],
      [R, 'A', 'ACCEPT', 'TIME_WAIT'],
    ],
  },
  {
    name: 'reset of an established connection',
    steps: [
      [O, 'S', 'ACCEPT', 'SYN_SENT'],
      [R, 'SA', 'ACCEPT', 'SYN_RECV'],
      [O, 'A', 'ACCEPT', 'ESTABLISHED'],
      [R, 'R', 'ACCEPT', 'CLOSE'],
      [O, 'A', 'ACCEPT', 'CLOSE'],
    ],
  },
  {
    name: 'connection refused (RST/ACK answers the SYN)',
    steps: [
      [O, 'S', 'ACCEPT', 'SYN_SENT'],
      [R, 'RA', 'ACCEPT', 'CLOSE'],
    ],
  },
  {
    name: 'simultaneous open',
    steps: [
      [O, 'S', 'ACCEPT', 'SYN_SENT'],
      [R, 'S', 'ACCEPT', 'SYN_SENT2'],
      [O, 'SA', 'ACCEPT', 'SYN_RECV'],
      [R, 'A', 'ACCEPT', 'ESTABLISHED'],
    ],
  },
  {
    name: 'segments that cannot happen before the handshake are invalid',
    steps: [
      [O, 'S', 'ACCEPT', 'SYN_SENT'],
      [O, 'A', 'INVALID', 'SYN_SENT'],
      [O, 'FA', 'INVALID', 'SYN_SENT'],
      [O, 'SA', 'INVALID', 'SYN_SENT'],
      [R, 'FA', 'INVALID', 'SYN_SENT'],
      [R, 'SA', 'ACCEPT', 'SYN_RECV'],
    ],
  },
  {
    name: 'reply ACK to a SYN is ignored (half-open or challenge ACK)',
    steps: [
      [O, 'S', 'ACCEPT', 'SYN_SENT'],
      [R, 'A', 'IGNORE', 'SYN_SENT'],
    ],
  },
  {
    name: 'SYN on an established connection is ignored; its SYN/ACK resynchronises',
    steps: [
      [O, 'A', 'ACCEPT', 'ESTABLISHED'],
      [O, 'S', 'IGNORE', 'ESTABLISHED'],
      [R, 'SA', 'ACCEPT', 'SYN_RECV'],
      [O, 'A', 'ACCEPT', 'ESTABLISHED'],
    ],
  },
  {
    name: 'stray SYN/ACK on an established connection is ignored',
    steps: [
      [O, 'A', 'ACCEPT', 'ESTABLISHED'],
      [R, 'SA', 'IGNORE', 'ESTABLISHED'],
      [O, 'SA', 'INVALID', 'ESTABLISHED'],
    ],
  },
  {
    name: 'mid-stream pickup by an ACK',
    steps: [
      [O, 'PA', 'ACCEPT', 'ESTABLISHED'],
      [R, 'A', 'ACCEPT', 'ESTABLISHED'],
    ],
  },
  {
    name: 'new SYN in TIME_WAIT after a FIN close re-opens',
    steps: [
      [O, 'A', 'ACCEPT', 'ESTABLISHED'],
      [O, 'FA', 'ACCEPT', 'FIN_WAIT'],
      [R, 'FA', 'ACCEPT', 'LAST_ACK'],
      [O, 'A', 'ACCEPT', 'TIME_WAIT'],
      [O, 'S', 'REOPEN', 'TIME_WAIT'],
      [R, 'S', 'REOPEN', 'TIME_WAIT'],
    ],
  },
  {
    name: 'SYN after our own RST re-opens; after the peer RST it is ignored',
    steps: [
      [O, 'A', 'ACCEPT', 'ESTABLISHED'],
      [R, 'R', 'ACCEPT', 'CLOSE'],
      [O, 'S', 'IGNORE', 'CLOSE'],
      [O, 'R', 'ACCEPT', 'CLOSE'],
      [O, 'S', 'REOPEN', 'CLOSE'],
    ],
  },
  {
    name: 'RFC 5961 challenge ACK in LAST_ACK does not end the connection',
    steps: [
      [O, 'A', 'ACCEPT', 'ESTABLISHED'],
      [R, 'FA', 'ACCEPT', 'FIN_WAIT'],
      [O, 'A', 'ACCEPT', 'CLOSE_WAIT'],
      [O, 'FA', 'ACCEPT', 'LAST_ACK'],
      [O, 'S', 'IGNORE', 'LAST_ACK'],
      [R, 'A', 'IGNORE', 'LAST_ACK'],
      [R, 'A', 'ACCEPT', 'TIME_WAIT'],
    ],
  },
  {
    name: 'a segment with no SYN/FIN/RST/ACK is invalid in every state',
    steps: [
      [O, 'S', 'ACCEPT', 'SYN_SENT'],
      [O, 'P', 'INVALID', 'SYN_SENT'],
      [R, 'SA', 'ACCEPT', 'SYN_RECV'],
      [R, 'U', 'INVALID', 'SYN_RECV'],
    ],
  },
];

describe('conntrack/tcp-state', () => {
  describe('sequences', () => {
    for (const seq of sequences) {
      it(seq.name, () => {
        const conn: TcpTracked = { tcpState: TcpState.NONE, status: TCP_INITIAL_STATUS };
        seq.steps.forEach(([dir, flags, action, state], i) => {
          const got = tcpStep(conn, dir, tcpFlags(flags));
          const where = `step ${i + 1} (${dir === O ? 'orig' : 'reply'} ${flags})`;
          assert.equal(Object.keys(TcpAction)[got], action, `${where} action`);
          assert.equal(tcpStateName(conn.tcpState), state, `${where} state`);
        });
      });
    }
  });

  it('FIN_WAIT marks the close as initiated', () => {
    const conn: TcpTracked = { tcpState: TcpState.ESTABLISHED, status: TCP_INITIAL_STATUS };
    tcpStep(conn, O, tcpFlags('FA'));
    assert.ok(conn.status & TcpStatusBit.CLOSE_INIT);
  });

  describe('flag combinations (the kernel tcp_valid_flags table)', () => {
    const valid = ['S', 'SU', 'SA', 'R', 'RA', 'FA', 'FAU', 'A', 'AU', 'SPEC', 'PA', 'FPA', 'RAP'];
    const invalid = ['', 'F', 'SF', 'SFA', 'SR', 'RF', 'FU', 'P', 'U', 'FSRPAU', 'SRA'];
    for (const f of valid) it(`valid: '${f}'`, () => assert.ok(tcpFlagsValid(tcpFlags(f))));
    for (const f of invalid) it(`invalid: '${f || 'none'}'`, () => assert.equal(tcpFlagsValid(tcpFlags(f)), false));
  });

  describe('which segments may start a connection', () => {
    const cases: [flags: string, loose: boolean, start: boolean][] = [
      ['S', false, true],
      ['S', true, true],
      ['A', true, true],
      ['PA', true, true],
      ['A', false, false],
      ['SA', true, false],
      ['FA', true, false],
      ['R', true, false],
      ['RA', true, false],
      ['SF', true, false],
    ];
    for (const [flags, loose, start] of cases) {
      it(`${flags} ${loose ? 'loose' : 'strict'} -> ${start}`, () => assert.equal(tcpCanStart(tcpFlags(flags), loose), start));
    }
  });

  it('flag class precedence: RST > SYN > FIN > ACK', () => {
    assert.equal(tcpIndex(tcpFlags('RSFA')), 4);
    assert.equal(tcpIndex(tcpFlags('SFA')), 1);
    assert.equal(tcpIndex(tcpFlags('SF')), 0);
    assert.equal(tcpIndex(tcpFlags('FA')), 2);
    assert.equal(tcpIndex(tcpFlags('PA')), 3);
    assert.equal(tcpIndex(tcpFlags('P')), 5);
  });

  it('state names', () => {
    assert.equal(tcpStateName(TcpState.SYN_SENT2), 'SYN_SENT2');
    assert.equal(tcpStateName(42), 'UNKNOWN(42)');
  });
});

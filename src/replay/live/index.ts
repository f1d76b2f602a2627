/** `nfqwall replay --live`: the offline replay proven against the real daemon in the lab. */
export { planLive, runLive, labMtu } from './live-replay';
export type { LabSide, LiveFate, LivePacket, LivePlan, LiveRunOptions, LiveRunResult } from './live-replay';
export { formatLiveSummary, formatLiveTable, liveJson } from './live-report';
export { createLab, useLab } from './lab-session';
export type { LiveLab, LabUpSessionOptions } from './lab-session';
export { LIVE_NFLOG_GROUP, LIVE_TABLE, quietHostRuleset, routerRuleset } from './lab-control';
export { fingerprint, fixChecksums, ipOfNflog } from './packets';

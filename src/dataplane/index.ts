/** The steering layer: plan -> rules (native nft or iptables-nft) -> kernel. */
export { HOOK_NAMES, type HookName, type HookSteering, type InterfaceMatch, type QueueTarget, type SteeringPlan } from './plan';
export { CT_STATE_CODES, DEFAULT_MARK_MASK, generationBits, markLayout, mergeMark, type MarkLayout } from './marks';
export { planFromPolicyInfo, type PlanSettings, type PolicyInterfaceInfo } from './plan-from-info';
export { buildSteeringModel, checkPlan, hookActive, type SteeringModel } from './model';
export { renderNft, nftRemoveScript } from './render-nft';
export { renderIptables, renderIptablesRemoval, parseIptablesSave, iptablesChainName, type IpFamily, type IptablesState } from './render-iptables';
export { probeBackend, type ProbeResult, type ProbeOptions } from './probe';
export {
  installSteering,
  removeSteering,
  removeOnExit,
  readIptablesState,
  execRunner,
  netnsRunner,
  DataplaneCommandError,
  type Backend,
  type CommandRunner,
  type CommandOutput,
  type ApplyOptions,
} from './apply';

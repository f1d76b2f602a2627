/**
 * FelixConfiguration (calico-semantics.md §1.9): only the fields that change a verdict are read.
 *
 * Choice: every other field of Calico's FelixConfigurationSpec is accepted with a warning
 * (NFQ_CFG_FELIX_NO_EFFECT), so a configuration exported from a cluster loads unchanged while
 * the user learns it does nothing here; a name that is not a Felix field at all is an error, as
 * calicoctl's strict decoding would make it.
 *
 * Precedence (as Felix): built-in defaults < `default` < `node.<this node>`, field by field.
 */
import type { FailsafePort, FelixSettings } from './resources';
import { CFG } from './issue-codes';
import { Checker, checkFields, describe, isRecord, own, readBool, readInt, readList, readString, shown } from './validate-context';
import { readEnvelope } from './validate-metadata';
import { normaliseCidr } from './validate-nets';
import type { FieldPath } from './yaml-source';

/** The fields nfqwall applies. */
const EFFECTIVE_FIELDS = [
  'failsafeInboundHostPorts',
  'failsafeOutboundHostPorts',
  'iptablesFilterDenyAction',
  'disableConntrackInvalidCheck',
  'logPrefix',
  'logActionRateLimit',
  'logActionRateLimitBurst',
];

/** Every other FelixConfigurationSpec field (Calico v3.32): valid, but no effect in nfqwall. */
const OTHER_FELIX_FIELDS = [
  'nodeSelector', 'useInternalDataplaneDriver', 'dataplaneDriver', 'dataplaneWatchdogTimeout', 'ipv6Support', 'routeRefreshInterval',
  'interfaceRefreshInterval', 'iptablesRefreshInterval', 'iptablesPostWriteCheckInterval', 'iptablesLockProbeInterval', 'featureDetectOverride',
  'featureGates', 'ipsetsRefreshInterval', 'maxIpsetSize', 'iptablesBackend', 'xdpRefreshInterval', 'netlinkTimeout', 'metadataAddr', 'metadataPort',
  'openstackRegion', 'interfacePrefix', 'interfaceExclude', 'chainInsertMode', 'defaultEndpointToHostAction', 'iptablesFilterAllowAction',
  'iptablesMangleAllowAction', 'logFilePath', 'logSeverityFile', 'logSeverityScreen', 'logSeveritySys', 'logDebugFilenameRegex', 'ipipEnabled',
  'ipipMTU', 'vxlanEnabled', 'vxlanMTU', 'vxlanMTUV6', 'vxlanPort', 'vxlanVNI', 'allowVXLANPacketsFromWorkloads', 'allowIPIPPacketsFromWorkloads',
  'reportingInterval', 'reportingTTL', 'endpointReportingEnabled', 'endpointReportingDelay', 'endpointStatusPathPrefix', 'iptablesMarkMask',
  'healthEnabled', 'healthHost', 'healthPort', 'healthTimeoutOverrides', 'prometheusMetricsEnabled', 'prometheusMetricsHost', 'prometheusMetricsPort',
  'prometheusGoMetricsEnabled', 'prometheusProcessMetricsEnabled', 'prometheusWireGuardMetricsEnabled', 'prometheusMetricsCAFile',
  'prometheusMetricsCertFile', 'prometheusMetricsKeyFile', 'prometheusMetricsClientAuth', 'kubeNodePortRanges', 'policySyncPathPrefix',
  'usageReportingEnabled', 'usageReportingInitialDelay', 'usageReportingInterval', 'natPortRange', 'natOutgoingAddress', 'natOutgoingExclusions',
  'deviceRouteSourceAddress', 'deviceRouteSourceAddressIPv6', 'deviceRouteProtocol', 'removeExternalRoutes', 'programClusterRoutes', 'ipForwarding',
  'externalNodesList', 'debugMemoryProfilePath', 'debugDisableLogDropping', 'debugSimulateCalcGraphHangAfter', 'debugSimulateDataplaneHangAfter',
  'debugSimulateDataplaneApplyDelay', 'debugHost', 'debugPort', 'iptablesNATOutgoingInterfaceFilter', 'sidecarAccelerationEnabled', 'xdpEnabled',
  'genericXDPEnabled', 'nftablesMode', 'nftablesFlowTableOffload', 'nftablesFlowTableDataIfacePattern', 'nftablesRefreshInterval',
  'nftablesFilterAllowAction', 'nftablesMangleAllowAction', 'nftablesFilterDenyAction', 'nftablesMarkMask', 'bpfEnabled', 'bpfOverlayHostSourceIP',
  'bpfDisableUnprivileged', 'bpfJITHardening', 'bpfLogLevel', 'bpfConntrackLogLevel', 'bpfConntrackMode', 'bpfConntrackTimeouts', 'bpfIPFragTimeout',
  'bpfLogFilters', 'bpfCTLBLogFilter', 'bpfDataIfacePattern', 'bpfL3IfacePattern', 'bpfConnectTimeLoadBalancingEnabled', 'bpfConnectTimeLoadBalancing',
  'bpfHostNetworkedNATWithoutCTLB', 'bpfExternalServiceMode', 'bpfDSROptoutCIDRs', 'bpfExtToServiceConnmark', 'bpfKubeProxyIptablesCleanupEnabled',
  'bpfKubeProxyMinSyncPeriod', 'bpfKubeProxyHealthzPort', 'bpfPSNATPorts', 'bpfMapSizeNATFrontend', 'bpfMapSizeNATBackend', 'bpfMapSizeNATAffinity',
  'bpfMapSizeRoute', 'bpfMapSizeConntrack', 'bpfMapSizePerCpuConntrack', 'bpfMapSizeConntrackScaling', 'bpfMapSizeConntrackCleanupQueue',
  'bpfMapSizeIPSets', 'bpfMapSizeIfState', 'bpfHostConntrackBypass', 'bpfIPFragmentReassemblyEnabled', 'bpfEnforceRPF', 'bpfPolicyDebugEnabled',
  'bpfForceTrackPacketsFromIfaces', 'bpfDisableGROForIfaces', 'bpfExcludeCIDRsFromNAT', 'bpfExportBufferSizeMB', 'istioAmbientMode', 'istioDSCPMark',
  'cgroupV2Path', 'flowLogsPolicyEvaluationMode', 'bpfRedirectToPeer', 'bpfAttachType', 'flowLogsFlushInterval', 'flowLogsCollectorDebugTrace',
  'flowLogsGoldmaneServer', 'flowLogsLocalReporter', 'bpfProfiling', 'routeSource', 'routeTableRanges', 'routeTableRange', 'routeSyncDisabled',
  'ipv4NormalRoutePriority', 'ipv4ElevatedRoutePriority', 'ipv6NormalRoutePriority', 'ipv6ElevatedRoutePriority',
  'liveMigrationRouteConvergenceTime', 'wireguardEnabled', 'wireguardEnabledV6', 'wireguardThreadingEnabled', 'wireguardListeningPort',
  'wireguardListeningPortV6', 'wireguardRoutingRulePriority', 'wireguardInterfaceName', 'wireguardInterfaceNameV6', 'wireguardMTU', 'wireguardMTUV6',
  'wireguardHostEncryptionEnabled', 'wireguardKeepAlive', 'awsSrcDstCheck', 'serviceLoopPrevention', 'workloadSourceSpoofing', 'mtuIfacePattern',
  'floatingIPs', 'localSubnetL2Reachability', 'localSubnetL2ReachabilityRefreshInterval', 'windowsManageFirewallRules', 'goGCThreshold',
  'goMemoryLimitMB', 'goMaxProcs', 'requireMTUFile', 'bpfMaglevMaxEndpointsPerService', 'bpfMaglevMaxServices',
];

const LOG_PREFIX_RE = /^([a-zA-Z0-9%: /_-])*$/;
const RATE_RE = /^([1-9]\d{0,3})\/(second|minute|hour|day)$/;
const UNIT_SECONDS: Readonly<Record<string, number>> = { second: 1, minute: 60, hour: 3600, day: 86400 };

export interface FelixDocument {
  /** 'default' or 'node.<name>'. */
  name: string | undefined;
  /** Only the fields this document sets. */
  settings: Partial<FelixSettings> | undefined;
}

export function validateFelix(c: Checker, value: Record<string, unknown>): FelixDocument {
  const { meta, spec } = readEnvelope(c, value, 'FelixConfiguration', 'felix');
  if (spec === null) return { name: meta.name, settings: undefined };
  checkFields(c, spec, ['spec'], [...EFFECTIVE_FIELDS, ...OTHER_FELIX_FIELDS], 'FelixConfiguration spec');
  for (const key of Object.keys(spec)) {
    if (OTHER_FELIX_FIELDS.includes(key)) {
      c.warn(['spec', key], CFG.FELIX_NO_EFFECT, `FelixConfiguration field ${key} has no effect in nfqwall (only ${EFFECTIVE_FIELDS.join(', ')} are applied)`, {
        key: true,
      });
    }
  }
  const settings: Partial<FelixSettings> = {};
  const inbound = readFailsafe(c, spec, 'failsafeInboundHostPorts');
  if (inbound) settings.failsafeInboundHostPorts = inbound;
  const outbound = readFailsafe(c, spec, 'failsafeOutboundHostPorts');
  if (outbound) settings.failsafeOutboundHostPorts = outbound;

  const deny = readString(c, spec, ['spec'], 'iptablesFilterDenyAction');
  if (typeof deny === 'string' && deny !== '') {
    const lower = deny.toLowerCase();
    if (lower === 'drop') settings.denyAction = 'Drop';
    else if (lower === 'reject') settings.denyAction = 'Reject';
    else c.error(['spec', 'iptablesFilterDenyAction'], CFG.INVALID_VALUE, `invalid iptablesFilterDenyAction "${deny}": must be DROP or REJECT`);
  }
  const invalidCheck = readBool(c, spec, ['spec'], 'disableConntrackInvalidCheck');
  if (typeof invalidCheck === 'boolean') settings.disableConntrackInvalidCheck = invalidCheck;

  const prefix = readString(c, spec, ['spec'], 'logPrefix');
  if (typeof prefix === 'string' && prefix !== '') {
    if (LOG_PREFIX_RE.test(prefix)) settings.logPrefix = prefix;
    else c.error(['spec', 'logPrefix'], CFG.INVALID_VALUE, `invalid logPrefix "${prefix}": only letters, digits, '%', ':', ' ', '/', '_' and '-' are allowed`);
  }
  const rate = readString(c, spec, ['spec'], 'logActionRateLimit');
  if (typeof rate === 'string') {
    const m = RATE_RE.exec(rate);
    if (m) settings.logActionRateLimit = Number(m[1]) / UNIT_SECONDS[m[2]!]!;
    else c.error(['spec', 'logActionRateLimit'], CFG.INVALID_VALUE, `invalid logActionRateLimit "${rate}": use N/unit with N 1-9999 and unit second, minute, hour or day (e.g. "10/second")`);
  }
  const burst = readInt(c, spec, ['spec'], 'logActionRateLimitBurst', 0, 9999);
  if (typeof burst === 'number') settings.logActionRateLimitBurst = burst;

  return { name: meta.name, settings: c.errorCount > 0 || meta.name === undefined ? undefined : settings };
}

/** A failsafe list; undefined when absent (defaults apply), [] disables. null when invalid. */
function readFailsafe(c: Checker, spec: Record<string, unknown>, key: string): FailsafePort[] | null | undefined {
  const list = readList(c, spec, ['spec'], key);
  if (list === undefined || list === null) return list;
  const out: FailsafePort[] = [];
  let ok = true;
  list.forEach((raw, i) => {
    const path: FieldPath = ['spec', key, i];
    if (!isRecord(raw)) {
      ok = false;
      const hint = typeof raw === 'string' ? ` (the "${raw}" form is for environment variables; write {protocol: TCP, port: 22})` : '';
      c.error(path, CFG.FAILSAFE, `a failsafe entry must be a map with protocol, port and optional net, found ${describe(raw)}${hint}`);
      return;
    }
    checkFields(c, raw, path, ['protocol', 'port', 'net'], 'a failsafe entry');
    const before = c.errorCount;
    const proto = own(raw, 'protocol');
    let protocol: FailsafePort['protocol'] | undefined;
    if (proto === undefined || proto === null) c.error(path, CFG.FAILSAFE, 'failsafe protocol is required: TCP or UDP');
    else if (typeof proto === 'string' && (proto.toLowerCase() === 'tcp' || proto.toLowerCase() === 'udp')) protocol = proto.toLowerCase() as FailsafePort['protocol'];
    else c.error([...path, 'protocol'], CFG.FAILSAFE, `invalid failsafe protocol ${shown(proto)}: must be TCP or UDP`);
    const port = readInt(c, raw, path, 'port', 1, 65535, CFG.FAILSAFE);
    if (port === undefined) c.error(path, CFG.FAILSAFE, 'failsafe port is required (1-65535)');
    const netText = readString(c, raw, path, 'net');
    let net: string | undefined;
    if (typeof netText === 'string' && netText !== '') {
      net = normaliseCidr(netText)?.cidr;
      if (net === undefined) c.error([...path, 'net'], CFG.CIDR, `invalid failsafe net "${netText}" (expected a CIDR such as 10.0.0.0/8)`);
    }
    if (c.errorCount > before || !protocol || typeof port !== 'number') {
      ok = false;
      return;
    }
    out.push(net === undefined ? { protocol, port } : { protocol, port, net });
  });
  return ok ? out : null;
}

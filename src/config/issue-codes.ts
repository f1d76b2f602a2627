/**
 * Stable codes of every configuration issue, one per kind of mistake. Messages vary with the
 * details; the code never does, so tests, scripts and docs/errors.md can rely on it.
 */
export const CFG = {
  // --- files and YAML ---
  /** The directory named on the command line cannot be read or is not a directory. */
  DIR_READ: 'NFQ_CFG_DIR_READ',
  /** The directory holds no .yaml/.yml file (warning). */
  NO_FILES: 'NFQ_CFG_NO_FILES',
  /** A file cannot be read (permissions, dangling symlink, ...). */
  FILE_READ: 'NFQ_CFG_FILE_READ',
  /** A symbolic link points back to itself or to a directory already being read. */
  SYMLINK_LOOP: 'NFQ_CFG_SYMLINK_LOOP',
  /** A file or directory of the policy that users other than root (or the daemon's user) can change. */
  UNSAFE_PERMISSIONS: 'NFQ_CFG_UNSAFE_PERMISSIONS',
  /** A file is larger than the configured limit. */
  FILE_TOO_LARGE: 'NFQ_CFG_FILE_TOO_LARGE',
  /** YAML syntax error (the document is skipped). */
  YAML_SYNTAX: 'NFQ_CFG_YAML_SYNTAX',
  /** YAML parser warning, e.g. an unknown tag (warning). */
  YAML_WARNING: 'NFQ_CFG_YAML_WARNING',
  /** Alias expansion or nesting beyond the safety limits (resource-exhaustion guard). */
  YAML_LIMIT: 'NFQ_CFG_YAML_LIMIT',
  /** A document is not a mapping, or a List has no `items` sequence. */
  NOT_A_RESOURCE: 'NFQ_CFG_NOT_A_RESOURCE',

  // --- every resource ---
  API_VERSION: 'NFQ_CFG_API_VERSION',
  /** `kind` missing or not a Calico kind. */
  KIND_UNKNOWN: 'NFQ_CFG_KIND_UNKNOWN',
  /** A Calico kind that nfqwall deliberately does not enforce (NetworkPolicy, IPPool, ...). */
  KIND_UNSUPPORTED: 'NFQ_CFG_KIND_UNSUPPORTED',
  /** A field the resource schema does not have (typo or wrong nesting). */
  UNKNOWN_FIELD: 'NFQ_CFG_UNKNOWN_FIELD',
  /** A required field is missing or empty. */
  REQUIRED: 'NFQ_CFG_REQUIRED',
  /** A value has the wrong YAML type (string vs number vs list vs map vs boolean). */
  TYPE: 'NFQ_CFG_TYPE',
  /** A value outside the allowed set or range that has no more specific code. */
  INVALID_VALUE: 'NFQ_CFG_INVALID_VALUE',
  /** A string or list longer than Calico allows. */
  TOO_LONG: 'NFQ_CFG_TOO_LONG',
  /** metadata.name (or a name reference such as spec.node or spec.profiles[i]) is malformed. */
  NAME: 'NFQ_CFG_NAME',
  /** metadata.namespace on a cluster-scoped resource. */
  NAMESPACE: 'NFQ_CFG_NAMESPACE',
  LABEL_KEY: 'NFQ_CFG_LABEL_KEY',
  LABEL_VALUE: 'NFQ_CFG_LABEL_VALUE',
  /** A label Calico reserves (projectcalico.org/namespace on a GlobalNetworkSet). */
  RESERVED_LABEL: 'NFQ_CFG_RESERVED_LABEL',
  ANNOTATION: 'NFQ_CFG_ANNOTATION',
  /** Two resources of one kind share a name. */
  DUPLICATE_NAME: 'NFQ_CFG_DUPLICATE_NAME',
  /** Kubernetes-only matching (service accounts, services, namespaces, HTTP) — rejected on purpose. */
  UNSUPPORTED: 'NFQ_CFG_UNSUPPORTED',

  // --- rules ---
  RULE_ACTION: 'NFQ_CFG_RULE_ACTION',
  IP_VERSION: 'NFQ_CFG_IP_VERSION',
  PROTOCOL: 'NFQ_CFG_PROTOCOL',
  ICMP_RANGE: 'NFQ_CFG_ICMP_RANGE',
  ICMP_CODE_WITHOUT_TYPE: 'NFQ_CFG_ICMP_CODE_WITHOUT_TYPE',
  ICMP_PROTOCOL: 'NFQ_CFG_ICMP_PROTOCOL',
  ICMP_IP_VERSION: 'NFQ_CFG_ICMP_IP_VERSION',
  PORT: 'NFQ_CFG_PORT',
  PORT_PROTOCOL: 'NFQ_CFG_PORT_PROTOCOL',
  CIDR: 'NFQ_CFG_CIDR',
  NOTNETS_CATCH_ALL: 'NFQ_CFG_NOTNETS_CATCH_ALL',
  MIXED_IP_FAMILIES: 'NFQ_CFG_MIXED_IP_FAMILIES',
  IP_VERSION_MISMATCH: 'NFQ_CFG_IP_VERSION_MISMATCH',
  SELECTOR: 'NFQ_CFG_SELECTOR',
  SELECTOR_GLOBAL: 'NFQ_CFG_SELECTOR_GLOBAL',

  // --- GlobalNetworkPolicy ---
  POLICY_TYPE: 'NFQ_CFG_POLICY_TYPE',
  DUPLICATE_TYPE: 'NFQ_CFG_DUPLICATE_TYPE',
  PREDNAT_DONOTTRACK: 'NFQ_CFG_PREDNAT_DONOTTRACK',
  PREDNAT_EGRESS: 'NFQ_CFG_PREDNAT_EGRESS',
  APPLY_ON_FORWARD_REQUIRED: 'NFQ_CFG_APPLY_ON_FORWARD_REQUIRED',
  TIER_MISSING: 'NFQ_CFG_TIER_MISSING',
  /** Policy name prefix `x.` differs from spec.tier (warning). */
  POLICY_NAME_TIER: 'NFQ_CFG_POLICY_NAME_TIER',

  // --- endpoints ---
  INTERFACE_NAME: 'NFQ_CFG_INTERFACE_NAME',
  HEP_NO_INTERFACE: 'NFQ_CFG_HEP_NO_INTERFACE',
  IP_ADDRESS: 'NFQ_CFG_IP_ADDRESS',
  ENDPOINT_PORT: 'NFQ_CFG_ENDPOINT_PORT',
  /** An endpoint lists a profile that no file defines (warning: Calico then denies all). */
  PROFILE_MISSING: 'NFQ_CFG_PROFILE_MISSING',

  // --- Tier, Profile ---
  TIER_DEFAULT_ACTION: 'NFQ_CFG_TIER_DEFAULT_ACTION',
  TIER_RESERVED: 'NFQ_CFG_TIER_RESERVED',
  BUILTIN_PROFILE: 'NFQ_CFG_BUILTIN_PROFILE',

  // --- FelixConfiguration ---
  FELIX_NAME: 'NFQ_CFG_FELIX_NAME',
  FAILSAFE: 'NFQ_CFG_FAILSAFE',
  /** A Felix field that is valid in Calico but changes nothing in nfqwall (warning). */
  FELIX_NO_EFFECT: 'NFQ_CFG_FELIX_NO_EFFECT',
} as const;

export type ConfigIssueCode = (typeof CFG)[keyof typeof CFG];

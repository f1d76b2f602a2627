/**
 * Calico projectcalico.org/v3 configuration: YAML with source positions -> validated, defaulted
 * ResourceSet, with every issue located (file, line, column, field path) and coded (issue-codes.ts).
 */
export { checkConfigFileSafety, unsafeReason } from './file-safety';
export { loadResourceDir, readResourceDir, type LoadOptions, type LoadResult, type ReadResult } from './load';
export {
  DEFAULT_MAX_ALIAS_COUNT,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_FLOW_DEPTH,
  formatFieldPath,
  parseYamlDocuments,
  rawDocumentsFromNode,
  type FieldPath,
  type LocateOptions,
  type NodeSourceOptions,
  type ParsedDocuments,
  type RawDocument,
  type YamlSourceOptions,
} from './yaml-source';
export { nodeLocation, parseSingleYamlDocument, parseYamlText, yamlToJS, type ParsedYamlText, type SingleYamlDocument } from './yaml-limits';
export {
  BUILTIN_ORIGIN,
  builtinDefaultAllowProfile,
  builtinDefaultTier,
  defaultFelixSettings,
  validateDocuments,
  type ValidateOptions,
  type ValidationResult,
} from './validate';
export { defaultPolicyTypes } from './validate-policy';
export { API_VERSION, SUPPORTED_KINDS, type SupportedKind } from './validate-metadata';
export { CFG, type ConfigIssueCode } from './issue-codes';
export * from './resources';

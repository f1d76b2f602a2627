/** The reference (oracle) policy evaluator: a slow, literal interpreter of calico-semantics.md. */
export { createReferenceEvaluator } from './evaluator';
export { hooksForPath } from './pipeline';

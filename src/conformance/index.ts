export { parseCaseFile, type CaseFile, type ConformanceCase } from './case-file';
export { runCase, type CaseResult, type EvaluatorFactory } from './run';

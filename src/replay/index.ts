/** Offline replay of captures through the engine: direction inference, the replay loop, expectations, output forms. */
export { EMPTY_INTERFACE_MAP, HostDirection, createDirectionOut, parseInterfaceMap } from './direction';
export type { DirectionOut, IifSource, InterfaceMap } from './direction';
export { DEFAULT_REPLAY_CONNTRACK_MAX, ReplayEngine, flowStateText, isDropVerdict } from './replay-engine';
export type { FlowEnd, FlowRecord, PacketResult, PacketVerdict, ReplayEngineOptions, ReplayPolicy, ReplayRecord, ReplayStats } from './replay-engine';
export { ExpectationChecker, formatExpectationReport, parseExpectations } from './expect';
export type { Expectation, ExpectationMatch, ExpectationParseResult, ExpectationResult } from './expect';
export { deciderFields, describeDecider, flowJson, formatFlowTable, formatSummary, packetJson, protoName } from './format';

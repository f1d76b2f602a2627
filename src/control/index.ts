/** The daemon's control socket: protocol, server (daemon side) and client (CLI side). */
export {
  DEFAULT_CONTROL_SOCKET,
  type ControlHandlers,
  type ControlMessage,
  type ControlRequest,
  type ReloadReport,
  parseRequest,
} from './protocol';
export { ControlServer, type ControlServerOptions } from './server';
export { ControlClientError, ControlConnection, connectControl } from './client';
export { checkSocketForClient, prepareSocketPath } from './socket-security';

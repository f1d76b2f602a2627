/**
 * Capture files: streaming pcap/pcapng reading that reports bad input as a value (never throws),
 * and pcap / minimal pcapng writing.
 */
export { LINKTYPE, isRawIpLinkType, linkTypeName } from './link-types';
export type { KnownLinkType } from './link-types';
export { PCAP_ERROR, PCAP_WRITE_ERROR } from './errors';
export type { PcapError, PcapErrorCode } from './errors';
export { CaptureReader, MAX_BLOCK_LENGTH, MAX_PACKET_LENGTH, readCaptureBuffer } from './reader';
export type {
  ByteOrder,
  CaptureBufferResult,
  CaptureFormat,
  CaptureReaderOptions,
  PcapFileHeader,
  PcapInterface,
  PcapReadStatus,
  PcapRecord,
} from './reader';
export { PcapWriter, PcapngWriter, msToNs } from './writer';
export type { PcapWriterOptions, PcapngInterfaceOptions, PcapngWriterOptions } from './writer';

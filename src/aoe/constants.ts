/**
 * Protocol numbers of ATA over Ethernet, revision 11 (AoE r11), and of the ATA
 * registers it carries. Plain `as const` objects rather than TS enums: they
 * erase to ordinary objects, and `typeof X[keyof typeof X]` gives the union.
 */

/** EtherType registered for AoE (AoE r11, section 2). */
export const ETHERTYPE_AOE = 0x88a2;

/** The protocol version this codec speaks: the high nibble of byte 14 (AoE r11, section 2). */
export const AOE_VERSION = 1;

/** Major (shelf) address meaning "every shelf" (AoE r11, section 2). */
export const BROADCAST_MAJOR = 0xffff;

/** Minor (slot) address meaning "every slot" (AoE r11, section 2). */
export const BROADCAST_MINOR = 0xff;

/** Bytes in one ATA sector: every AoE data payload is a multiple of this. */
export const SECTOR_SIZE = 512;

/** AoE commands (AoE r11, section 2). 0xF0-0xFF are vendor specific. */
export const Command = {
  ATA: 0,
  QueryConfig: 1,
  MacMask: 2,
  Reserve: 3,
} as const;
export type Command = (typeof Command)[keyof typeof Command];

/** Values of the error byte when the Error flag is set (AoE r11, section 2). There are no others. */
export const AoEError = {
  UnrecognizedCommand: 1,
  BadArgument: 2,
  DeviceUnavailable: 3,
  ConfigStringPresent: 4,
  UnsupportedVersion: 5,
  TargetReserved: 6,
} as const;
export type AoEError = (typeof AoEError)[keyof typeof AoEError];

/** Flags: the low nibble of byte 14 (AoE r11, section 2). The low two bits are reserved. */
export const Flag = {
  /** R: this message is a response. */
  Response: 0x08,
  /** E: the error byte is meaningful. */
  Error: 0x04,
} as const;

/** ATA command register values a target must handle (ATA/ATAPI-6, ACS). */
export const AtaCmd = {
  Read: 0x20,
  ReadExt: 0x24,
  Write: 0x30,
  WriteExt: 0x34,
  CheckPower: 0xe5,
  Flush: 0xe7,
  FlushExt: 0xea,
  Identify: 0xec,
} as const;

/** ATA status register bits (ATA/ATAPI-6, 7.15.6). */
export const AtaStatus = {
  /** ERR: the error register holds why. */
  Err: 0x01,
  /** DRQ: data transfer requested. */
  Drq: 0x08,
  /** DF: device fault. */
  Df: 0x20,
  /** DRDY: ready; the status of every successful AoE ATA reply. */
  Drdy: 0x40,
  /** BSY: busy. */
  Bsy: 0x80,
  /** Initiators treat any of BSY|DF|DRQ|ERR as failure (Linux aoe, Plan 9 devaoe). */
  failureMask: 0xa9,
} as const;

/** ATA error register bits (ATA/ATAPI-6, 7.15.6). */
export const AtaErrorBit = {
  /** ABRT: command aborted (unsupported command). */
  Abrt: 0x04,
  /** IDNF: address not found (past the end of the device). */
  Idnf: 0x10,
  /** UNC: uncorrectable data error (the medium could not be read). */
  Unc: 0x40,
} as const;

/** AoE ATA argument flags, byte 24 (AoE r11, section 3.1). */
export const AtaFlag = {
  /** E: extended, LBA48 command. */
  Ext: 0x40,
  /** D: the device/head register's DEV bit. */
  Device: 0x10,
  /** A: asynchronous write; the target may answer before the data is stored. */
  Async: 0x02,
  /** W: the request carries data to write. */
  Write: 0x01,
} as const;

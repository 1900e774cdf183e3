/**
 * FreeBSD ioctl request numbers, computed the way <sys/ioccom.h> does, with the
 * amd64 (LP64) sizes of the structures they carry. Pure: unit-tested on Linux
 * against the published constants; not yet exercised on a FreeBSD kernel.
 */

const IOCPARM_MASK = 0x1fff;
export const IOC_VOID = 0x20000000;
export const IOC_OUT = 0x40000000;
export const IOC_IN = 0x80000000;
export const IOC_INOUT = IOC_IN | IOC_OUT;

const group = (g: string) => g.charCodeAt(0);

/** _IOC(inout, group, num, len), as an unsigned 32-bit number */
export function _IOC(inout: number, g: string, num: number, len: number): number {
  return (inout | ((len & IOCPARM_MASK) << 16) | (group(g) << 8) | num) >>> 0;
}
export const _IO = (g: string, n: number) => _IOC(IOC_VOID, g, n, 0);
export const _IOR = (g: string, n: number, len: number) => _IOC(IOC_OUT, g, n, len);
export const _IOW = (g: string, n: number, len: number) => _IOC(IOC_IN, g, n, len);
export const _IOWR = (g: string, n: number, len: number) => _IOC(IOC_INOUT, g, n, len);

/** sizeof on FreeBSD amd64 */
export const SIZEOF = {
  u_int: 4,
  /** struct ifreq: char ifr_name[IFNAMSIZ=16] + a 16-byte union */
  ifreq: 32,
  /** struct bpf_program: u_int bf_len; (pad) struct bpf_insn *bf_insns */
  bpf_program: 16,
  /** struct bpf_stat: u_int bs_recv, bs_drop */
  bpf_stat: 8,
  /** struct bpf_version: u_short major, minor */
  bpf_version: 4,
  /** struct timeval: time_t tv_sec; suseconds_t tv_usec (both 8 bytes) */
  timeval: 16,
} as const;

// <net/bpf.h>
export const BIOCGBLEN = _IOR("B", 102, SIZEOF.u_int);
export const BIOCSBLEN = _IOWR("B", 102, SIZEOF.u_int);
export const BIOCSETF = _IOW("B", 103, SIZEOF.bpf_program);
export const BIOCFLUSH = _IO("B", 104);
export const BIOCGDLT = _IOR("B", 106, SIZEOF.u_int);
export const BIOCSETIF = _IOW("B", 108, SIZEOF.ifreq);
export const BIOCGSTATS = _IOR("B", 111, SIZEOF.bpf_stat);
export const BIOCIMMEDIATE = _IOW("B", 112, SIZEOF.u_int);
export const BIOCVERSION = _IOR("B", 113, SIZEOF.bpf_version);
export const BIOCSHDRCMPLT = _IOW("B", 117, SIZEOF.u_int);
/** also spelled BIOCSSEESENT (vblade uses that name; same number) */
export const BIOCSDIRECTION = _IOW("B", 119, SIZEOF.u_int);

/** enum bpf_direction */
export const BPF_D_IN = 0;
/** DLT_EN10MB: the link type of Ethernet interfaces */
export const DLT_EN10MB = 1;

// <sys/sockio.h>
export const SIOCGIFFLAGS = _IOWR("i", 17, SIZEOF.ifreq);
export const SIOCGIFMTU = _IOWR("i", 51, SIZEOF.ifreq);

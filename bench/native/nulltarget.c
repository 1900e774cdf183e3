/*
 * nulltarget.c — an AoE r11 target with no storage at all, in C: the ceiling of
 * this machine's request/response path for `bun run bench`. Nothing it does
 * costs more than receiving a batch of frames, writing a header into a reply and
 * sending the batch: every target loaded by the same load generator is measured
 * against it.
 *
 *   nulltarget [-b BUFCNT] [--size SIZE] [--pattern SEED] SHELF SLOT IFACE
 *
 *     -b BUFCNT       buffer count announced in Query Config (default 64)
 *     --size SIZE     device size in bytes, with K, M, G or T (default 1G)
 *     --pattern SEED  reads return the pattern of bench/native/aoe.h for SEED (what
 *                     `loadgen --verify --seed SEED` expects) instead of zeroes
 *
 * Answers Query Config (read, test, prefix test, set, force set; and announces
 * itself once at start), ATA IDENTIFY DEVICE, READ/WRITE SECTORS (EXT), FLUSH
 * CACHE (EXT), CHECK POWER MODE; any other ATA command gets ERR/ABRT, any other
 * AoE command error 1. Writes are acknowledged and forgotten. Receives with
 * recvmmsg(MSG_WAITFORONE) — blocking, so 0 % CPU when idle — and answers each
 * batch with one sendmmsg. SIGTERM/SIGINT print the counters and end it.
 */
#include "aoe.h"
#include <getopt.h>
#include <signal.h>

#define BATCH 64
#define BUF 16384

static struct link l;
static int shelf, slot, bufcnt = 64, maxsect, use_pattern;
static uint64_t sectors = (1ull << 30) / SECTOR, seed;
static char config[1024];
static int config_len;
static volatile sig_atomic_t stop;
static uint64_t reads, writes, other, errors;

static uint8_t rxbuf[BATCH][BUF], txbuf[BATCH][BUF];
/* bytes past the ATA header a reply left in a tx buffer (zero data must stay zero) */
static unsigned dirty[BATCH];
static uint8_t identify[SECTOR];

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static void put_string(int word, int words, const char *s) {
  /* ATA strings: two characters per word, the first in the high byte, space padded */
  for (int i = 0; i < words * 2; i++) {
    char ch = i < (int)strlen(s) ? s[i] : ' ';
    identify[2 * word + (i ^ 1)] = (uint8_t)ch;
  }
}

static void build_identify(void) {
  uint16_t w[256] = {0};
  w[49] = 1 << 9;                                     /* LBA supported */
  uint64_t lba28 = sectors < 0x0fffffff ? sectors : 0x0fffffff;
  w[60] = (uint16_t)lba28;
  w[61] = (uint16_t)(lba28 >> 16);
  w[83] = 1 << 14 | 1 << 10;                          /* LBA48 supported */
  w[86] = 1 << 10;                                    /* LBA48 enabled */
  for (int k = 0; k < 4; k++) w[100 + k] = (uint16_t)(sectors >> (16 * k));
  for (int k = 0; k < 256; k++) {
    identify[2 * k] = (uint8_t)w[k];
    identify[2 * k + 1] = (uint8_t)(w[k] >> 8);
  }
  put_string(10, 10, "NULL0001");
  put_string(23, 4, "1");
  put_string(27, 20, "AoEde native null target");
}

/* Reply header in `t` from request `f`: addresses swapped, our shelf.slot (the request's may be broadcast), R set, error E if err. */
static void reply_header(uint8_t *t, const uint8_t *f, unsigned hdr, int err) {
  memcpy(t, f, hdr);
  put16(t + OFF_MAJOR, (uint16_t)shelf);
  t[OFF_MINOR] = (uint8_t)slot;
  memcpy(t + OFF_DST, f + OFF_SRC, 6);
  memcpy(t + OFF_SRC, l.mac, 6);
  t[OFF_VERFLAGS] = AOE_VER << 4 | FLAG_R | (err ? FLAG_E : 0);
  t[OFF_ERROR] = (uint8_t)err;
}

static unsigned pad(uint8_t *t, int k, unsigned len) {
  if (len < MIN_FRAME) {
    memset(t + len, 0, MIN_FRAME - len);
    if (dirty[k] < MIN_FRAME - OFF_DATA) dirty[k] = MIN_FRAME - OFF_DATA;
    len = MIN_FRAME;
  }
  return len;
}

static unsigned query_config(const uint8_t *f, unsigned n, uint8_t *t, int k) {
  if (n < OFF_CSTR) return 0;
  int ccmd = f[OFF_VERCCMD] & 0x0f, len = get16(f + OFF_CSLEN), err = 0;
  if (len > 1024 || OFF_CSTR + (unsigned)len > n) len = 0;
  const char *s = (const char *)f + OFF_CSTR;
  switch (ccmd) {
  case 0: break;
  case 1: if (len != config_len || memcmp(s, config, (size_t)len)) return 0; break;
  case 2: if (len > config_len || memcmp(s, config, (size_t)len)) return 0; break;
  case 3: if (config_len && (len != config_len || memcmp(s, config, (size_t)len))) { err = 4; break; } /* fall through */
  case 4: memcpy(config, s, (size_t)len); config_len = len; break;
  default: err = 2;
  }
  reply_header(t, f, OFF_ARG, err);
  put16(t + OFF_BUFCNT, (uint16_t)bufcnt);
  put16(t + OFF_FWVER, 1);
  t[OFF_QC_SCNT] = (uint8_t)maxsect;
  t[OFF_VERCCMD] = AOE_VER << 4 | ccmd;
  put16(t + OFF_CSLEN, (uint16_t)config_len);
  memcpy(t + OFF_CSTR, config, (size_t)config_len);
  /* the string runs past the ATA header (and so into the data area) when longer than 4 bytes */
  if (OFF_CSTR + config_len > OFF_DATA && dirty[k] < (unsigned)(OFF_CSTR + config_len - OFF_DATA)) dirty[k] = (unsigned)(OFF_CSTR + config_len - OFF_DATA);
  return pad(t, k, OFF_CSTR + (unsigned)config_len);
}

static unsigned ata(const uint8_t *f, unsigned n, uint8_t *t, int k) {
  if (n < OFF_DATA) return 0;
  int lba48 = f[OFF_AFLAGS] & AFLAG_E, cmd = f[OFF_ATACMD];
  unsigned scnt = f[OFF_SCNT];
  uint64_t lba = get_lba48(f + OFF_LBA);
  if (!lba48) lba &= 0x0fffffff;
  uint8_t status = ST_DRDY, error = 0;
  unsigned data = 0; /* bytes of data in the reply */
  switch (cmd) {
  case ATA_READ:
  case ATA_READ_EXT:
  case ATA_WRITE:
  case ATA_WRITE_EXT: {
    int write = cmd == ATA_WRITE || cmd == ATA_WRITE_EXT;
    if (scnt > (unsigned)maxsect || (write && n < OFF_DATA + scnt * SECTOR)) {
      reply_header(t, f, OFF_DATA, 2);
      errors++;
      return pad(t, k, OFF_DATA);
    }
    if (lba + scnt > sectors) {
      status = ST_DRDY | ST_ERR;
      error = ERR_IDNF;
      errors++;
    } else if (write) {
      writes++;
    } else {
      reads++;
      data = scnt * SECTOR;
    }
    break;
  }
  case ATA_IDENTIFY: data = SECTOR; other++; break;
  case ATA_FLUSH:
  case ATA_FLUSH_EXT: other++; break;
  case ATA_CHECK_POWER: other++; break;
  default:
    status = ST_DRDY | ST_ERR;
    error = ERR_ABRT;
    errors++;
  }
  reply_header(t, f, OFF_DATA, 0);
  t[OFF_FEATURE] = error;
  t[OFF_ATACMD] = status;
  if (cmd == ATA_CHECK_POWER) t[OFF_SCNT] = 0xff; /* active */
  if (cmd == ATA_IDENTIFY) {
    memcpy(t + OFF_DATA, identify, SECTOR);
    if (dirty[k] < SECTOR) dirty[k] = SECTOR;
  } else if (data && use_pattern) {
    for (unsigned s = 0; s < scnt; s++) pattern_fill(t + OFF_DATA + s * SECTOR, lba + s, seed);
    if (dirty[k] < data) dirty[k] = data;
  } else if (data && dirty[k]) {
    memset(t + OFF_DATA, 0, dirty[k]);
    dirty[k] = 0;
  }
  return pad(t, k, OFF_DATA + data);
}

static unsigned answer(const uint8_t *f, unsigned n, int k) {
  if (n < OFF_ARG || (f[OFF_VERFLAGS] & FLAG_R)) return 0;
  if (memcmp(f + OFF_DST, l.mac, 6) && memcmp(f + OFF_DST, "\xff\xff\xff\xff\xff\xff", 6)) return 0;
  int major = get16(f + OFF_MAJOR), minor = f[OFF_MINOR];
  int bcast = major == 0xffff || minor == 0xff;
  if ((major != shelf && major != 0xffff) || (minor != slot && minor != 0xff)) return 0;
  uint8_t *t = txbuf[k];
  switch (f[OFF_CMD]) {
  case CMD_QC: return query_config(f, n, t, k);
  case CMD_ATA: return bcast ? 0 : ata(f, n, t, k);
  default:
    if (bcast) return 0;
    other++;
    reply_header(t, f, OFF_ARG, 1); /* unrecognized command */
    return pad(t, k, OFF_ARG);
  }
}

static uint64_t parse_size(const char *s) {
  char *end;
  double v = strtod(s, &end);
  double mult = 1;
  switch (*end) {
  case 'k': case 'K': mult = 1024.0; end++; break;
  case 'm': case 'M': mult = 1024.0 * 1024; end++; break;
  case 'g': case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
  case 't': case 'T': mult = 1024.0 * 1024 * 1024 * 1024; end++; break;
  }
  if (end == s || *end || v * mult < SECTOR) {
    fprintf(stderr, "nulltarget: --size \"%s\" is not a size of at least 512 bytes\n", s);
    exit(2);
  }
  return (uint64_t)(v * mult) / SECTOR;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"bufcnt", 1, 0, 'b'}, {"size", 1, 0, 'z'}, {"pattern", 1, 0, 'p'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "b:h", opts, NULL)) != -1) {
    switch (c) {
    case 'b': bufcnt = atoi(optarg); if (bufcnt < 1 || bufcnt > 65535) { fprintf(stderr, "nulltarget: -b is 1 to 65535\n"); return 2; } break;
    case 'z': sectors = parse_size(optarg); break;
    case 'p': use_pattern = 1; seed = strtoull(optarg, NULL, 0); break;
    default:
      fprintf(stderr, "usage: nulltarget [-b BUFCNT] [--size SIZE] [--pattern SEED] SHELF SLOT IFACE\n");
      return c == 'h' ? 0 : 2;
    }
  }
  if (argc - optind != 3) {
    fprintf(stderr, "usage: nulltarget [-b BUFCNT] [--size SIZE] [--pattern SEED] SHELF SLOT IFACE\n");
    return 2;
  }
  shelf = atoi(argv[optind]);
  slot = atoi(argv[optind + 1]);
  if (shelf < 0 || shelf >= 0xffff || slot < 0 || slot >= 0xff) {
    fprintf(stderr, "nulltarget: shelf is 0 to 65534, slot 0 to 254\n");
    return 2;
  }
  link_open(&l, argv[optind + 2], 8 << 20);
  maxsect = (l.mtu - 36) / SECTOR;
  if (maxsect > 255) maxsect = 255;
  build_identify();
  struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: recvmmsg returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  /* the announcement: an unsolicited Query Config reply to everyone */
  uint8_t hello[MIN_FRAME] = {0};
  memset(hello + OFF_DST, 0xff, 6);
  memcpy(hello + OFF_SRC, l.mac, 6);
  put16(hello + OFF_TYPE, AOE_ETHERTYPE);
  put16(hello + OFF_MAJOR, (uint16_t)shelf);
  hello[OFF_MINOR] = (uint8_t)slot;
  hello[OFF_CMD] = CMD_QC;
  uint8_t ann[BUF];
  unsigned alen = query_config(hello, sizeof hello, ann, 0);
  memset(ann + OFF_DST, 0xff, 6);
  send(l.fd, ann, alen, 0);
  dirty[0] = 0;

  printf("pid %d: native null target e%d.%d on %s %02x:%02x:%02x:%02x:%02x:%02x mtu %d, %d sectors/frame, bufcnt %d, %llu sectors (no storage: reads are %s, writes are dropped)\n",
         getpid(), shelf, slot, l.name, l.mac[0], l.mac[1], l.mac[2], l.mac[3], l.mac[4], l.mac[5], l.mtu, maxsect, bufcnt,
         (unsigned long long)sectors, use_pattern ? "the loadgen pattern" : "zeroes");
  fflush(stdout);

  static struct mmsghdr rx[BATCH], tx[BATCH];
  static struct iovec rxv[BATCH], txv[BATCH];
  for (int k = 0; k < BATCH; k++) {
    rxv[k] = (struct iovec){rxbuf[k], BUF};
    rx[k].msg_hdr = (struct msghdr){.msg_iov = &rxv[k], .msg_iovlen = 1};
  }
  while (!stop) {
    int n = recvmmsg(l.fd, rx, BATCH, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("recvmmsg");
    }
    int out = 0;
    for (int k = 0; k < n; k++) {
      unsigned len = answer(rxbuf[k], rx[k].msg_len, k);
      if (!len) continue;
      txv[out] = (struct iovec){txbuf[k], len};
      tx[out].msg_hdr = (struct msghdr){.msg_iov = &txv[out], .msg_iovlen = 1};
      out++;
    }
    for (int at = 0; at < out;) {
      int m = sendmmsg(l.fd, tx + at, (unsigned)(out - at), 0);
      if (m < 0) {
        if (errno == EINTR) continue;
        break; /* ENOBUFS: the initiator resends */
      }
      at += m;
    }
  }
  printf("null target: %llu reads, %llu writes, %llu other, %llu errors\n", (unsigned long long)reads, (unsigned long long)writes,
         (unsigned long long)other, (unsigned long long)errors);
  return 0;
}

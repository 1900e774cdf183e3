/*
 * loadgen.c — an AoE r11 load generator that is not AoEde: the instrument of
 * `bun run bench`. It keeps a fixed window of ATA requests in flight against one
 * target on one interface, for a fixed time, and prints one JSON line.
 *
 *   loadgen -i IFACE [options]
 *     -t, --target S.L     shelf.slot (default: broadcast Query Config, first reply)
 *     -m, --mode M         read | write | randread | randwrite (default read)
 *     -w, --window N       frames in flight (default: the target's buffer count)
 *     -s, --sectors N      sectors per request (default: the largest frame the MTU
 *                          allows, (mtu - 36) / 512, for read/write; 8 = 4 KiB for
 *                          random); a request larger than a frame is split, each
 *                          frame taking one place in the window
 *     -d, --duration S     measured seconds (default 5)
 *         --warmup S       load before measuring (default 0)
 *     -r, --region A:N     N sectors from LBA A (or just N; default the whole device)
 *         --verify         writes carry a pattern made from the LBA and --seed;
 *                          reads check it. Read modes first fill the region; write
 *                          modes read back every block written, after the run
 *         --seed N         pattern and random LBA seed (default 1)
 *         --timeout MS     resend a frame unanswered after MS (default 200)
 *         --retries N      resends before a frame counts as timed out (default 5)
 *         --phases         also print {"type":"begin"} / {"type":"end"} lines when
 *                          the measured interval begins and ends
 *         --spin US        keep polling without sleeping for US microseconds after
 *                          the last reply before blocking (default 0: always block;
 *                          spinning takes a CPU from the target on a small machine)
 *
 * Tags: bit 31 set (the user-space half of the tag space), the frame's place in
 * the window in the low bits and a per-place transmission count above, so every
 * transmission has its own tag: a late reply to a frame that was resent, or a
 * second copy of a reply, matches a transmission that is no longer current and
 * counts as a duplicate, never as a second completion; a tag this program never
 * sent counts as stray.
 *
 * Exit status: 0 when requests completed with no error, timeout or verify
 * failure; 1 otherwise (and when no target answered); 2 for a usage error.
 */
#include "aoe.h"
#include <getopt.h>
#include <poll.h>
#include <sys/resource.h>

#define SLOT_BITS 11
#define MAX_SLOTS (1 << SLOT_BITS)
#define GEN_BITS (31 - SLOT_BITS)
#define GEN_MASK ((1u << GEN_BITS) - 1)
#define RX_BATCH 64
#define RX_BUF 16384

enum mode { M_READ, M_WRITE, M_RANDREAD, M_RANDWRITE };
static const char *mode_names[] = {"read", "write", "randread", "randwrite"};

struct slot { /* one place in the window: one frame */
  uint8_t *buf;
  uint32_t len, tag, gens; /* gens: transmissions so far */
  uint64_t sent, lba;
  uint16_t nsect;
  uint8_t tries, active, write;
  int req;
};

struct request {
  uint64_t lba, start;
  uint32_t nsect;
  int pending, failed, write;
};

static struct {
  struct link l;
  uint8_t tmac[6];
  int shelf, slot, bufcnt, qc_scnt;
  uint64_t size;
  enum mode mode;
  int window, depth, fpr, reqsect, maxsect, verify, phases, retries;
  uint64_t first, count, seed, rng, cursor, timeout_ns, spin_ns, last_rx;
  struct slot *slots;
  struct request *reqs;
  /* counters: requests/bytes/latency in the measured interval, the rest over the whole run */
  uint64_t requests, bytes, resends, errors, timeouts, verify_failures, verified, duplicates, stray, sent, received;
  uint64_t hist[128 + 64 * 48];
  uint8_t *written; /* bitmap of blocks written (write modes with --verify) */
  uint64_t nblocks;
  struct mmsghdr tx[MAX_SLOTS];
  struct iovec txv[MAX_SLOTS];
  int ntx;
  char first_error[160];
} g;

/* the tag of the requests sent while finding the target: the last place, which the window never uses */
static uint32_t probe_tag;

static void usage(const char *msg) {
  fprintf(stderr, "loadgen: %s (see the comment at the top of bench/native/loadgen.c)\n", msg);
  exit(2);
}

/* ---- latency histogram: 1 µs steps below 128 µs, then 64 steps per power of two ---------- */

static int bucket_of(uint64_t us) {
  if (us < 128) return (int)us;
  int e = 63 - __builtin_clzll(us);
  if (e > 47 + 6) e = 47 + 6;
  return 128 + (e - 7) * 64 + (int)((us >> (e - 6)) - 64);
}
static double bucket_value(int b) {
  if (b < 128) return b;
  int e = (b - 128) / 64 + 7, m = (b - 128) % 64 + 64;
  return ((double)m + 0.5) * (double)(1ull << (e - 6));
}
static double percentile(double p) {
  uint64_t n = 0, seen = 0;
  for (size_t i = 0; i < sizeof g.hist / sizeof g.hist[0]; i++) n += g.hist[i];
  if (!n) return 0;
  uint64_t want = (uint64_t)(p * (double)n);
  if ((double)want < p * (double)n) want++; /* rounded up: no libm */
  if (want < 1) want = 1;
  for (size_t i = 0; i < sizeof g.hist / sizeof g.hist[0]; i++)
    if ((seen += g.hist[i]) >= want) return bucket_value((int)i);
  return 0;
}

/* ---- sending -------------------------------------------------------------------------------- */

static void flush_tx(void) {
  int at = 0;
  while (at < g.ntx) {
    int n = sendmmsg(g.l.fd, g.tx + at, (unsigned)(g.ntx - at), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      /* ENOBUFS and friends: the frames count as sent and lost; the resend timer recovers them */
      break;
    }
    at += n;
  }
  g.ntx = 0;
}

static void queue_tx(uint8_t *buf, uint32_t len) {
  if (g.ntx == MAX_SLOTS) flush_tx();
  g.txv[g.ntx] = (struct iovec){buf, len};
  g.tx[g.ntx].msg_hdr = (struct msghdr){.msg_iov = &g.txv[g.ntx], .msg_iovlen = 1};
  g.ntx++;
  g.sent++;
}

static void header(uint8_t *f, const uint8_t *dst, int major, int minor, int cmd, uint32_t tag) {
  memcpy(f + OFF_DST, dst, 6);
  memcpy(f + OFF_SRC, g.l.mac, 6);
  put16(f + OFF_TYPE, AOE_ETHERTYPE);
  f[OFF_VERFLAGS] = AOE_VER << 4;
  f[OFF_ERROR] = 0;
  put16(f + OFF_MAJOR, (uint16_t)major);
  f[OFF_MINOR] = (uint8_t)minor;
  f[OFF_CMD] = (uint8_t)cmd;
  put32(f + OFF_TAG, tag);
}

/* (Re)transmit slot i under a new tag. */
static void transmit(int i, uint64_t now) {
  struct slot *s = &g.slots[i];
  s->tag = 0x80000000u | (s->gens & GEN_MASK) << SLOT_BITS | (uint32_t)i;
  s->gens++;
  put32(s->buf + OFF_TAG, s->tag);
  s->sent = now;
  s->active = 1;
  queue_tx(s->buf, s->len);
}

static uint64_t rand64(void) {
  g.rng ^= g.rng << 13;
  g.rng ^= g.rng >> 7;
  g.rng ^= g.rng << 17;
  return g.rng;
}

/* ---- requests ------------------------------------------------------------------------------- */

enum phase { P_FILL, P_MAIN, P_CHECK };

/* The next request of the phase: 0 when the phase has no more. */
static int next_request(enum phase p, uint64_t *lba, uint32_t *nsect, int *write) {
  *nsect = (uint32_t)g.reqsect;
  if (p == P_FILL) {
    if (g.cursor >= g.count) return 0;
    *lba = g.first + g.cursor;
    if (*nsect > g.count - g.cursor) *nsect = (uint32_t)(g.count - g.cursor);
    g.cursor += *nsect;
    *write = 1;
    return 1;
  }
  if (p == P_CHECK) {
    while (g.cursor < g.nblocks && !(g.written[g.cursor >> 3] & 1 << (g.cursor & 7))) g.cursor++;
    if (g.cursor >= g.nblocks) return 0;
    *lba = g.first + g.cursor * (uint64_t)g.reqsect;
    g.cursor++;
    *write = 0;
    return 1;
  }
  *write = g.mode == M_WRITE || g.mode == M_RANDWRITE;
  if (g.mode == M_RANDREAD || g.mode == M_RANDWRITE) {
    *lba = g.first + rand64() % g.nblocks * (uint64_t)g.reqsect;
  } else {
    if (g.cursor + (uint64_t)g.reqsect > g.count) g.cursor = 0;
    *lba = g.first + g.cursor;
    g.cursor += (uint64_t)g.reqsect;
  }
  return 1;
}

static void start_request(int r, uint64_t lba, uint32_t nsect, int write, uint64_t now) {
  struct request *q = &g.reqs[r];
  *q = (struct request){.lba = lba, .start = now, .nsect = nsect, .write = write};
  for (int f = 0; f < g.fpr && nsect > 0; f++) {
    int i = r * g.fpr + f;
    struct slot *s = &g.slots[i];
    uint16_t n = (uint16_t)(nsect < (uint32_t)g.maxsect ? nsect : (uint32_t)g.maxsect);
    uint8_t *b = s->buf;
    header(b, g.tmac, g.shelf, g.slot, CMD_ATA, 0);
    b[OFF_AFLAGS] = AFLAG_E | (write ? AFLAG_W : 0);
    b[OFF_FEATURE] = 0;
    b[OFF_SCNT] = (uint8_t)n;
    b[OFF_ATACMD] = write ? ATA_WRITE_EXT : ATA_READ_EXT;
    put_lba48(b + OFF_LBA, lba);
    b[OFF_LBA + 6] = b[OFF_LBA + 7] = 0;
    if (write) {
      /* without --verify the data area keeps what it was given at start-up */
      if (g.verify)
        for (int k = 0; k < n; k++) pattern_fill(b + OFF_DATA + k * SECTOR, lba + (uint64_t)k, g.seed);
      s->len = OFF_DATA + n * SECTOR;
    } else {
      memset(b + OFF_DATA, 0, MIN_FRAME - OFF_DATA);
      s->len = MIN_FRAME;
    }
    if (s->len < MIN_FRAME) s->len = MIN_FRAME; /* the data of a short write is followed by zeroes */
    s->lba = lba;
    s->nsect = n;
    s->write = (uint8_t)write;
    s->tries = 0;
    s->req = r;
    q->pending++;
    transmit(i, now);
    lba += n;
    nsect -= n;
  }
}

static void note_error(const char *fmt, uint64_t a, uint64_t b) {
  if (!g.first_error[0]) snprintf(g.first_error, sizeof g.first_error, fmt, (unsigned long long)a, (unsigned long long)b);
}

/* ---- one phase: keep the window full until the generator or the clock says stop --------- */

struct clockwork {
  uint64_t measure_from, measure_to; /* completions counted in [from, to) */
  uint64_t stop_issuing;             /* no new request after this */
  int began, ended;
  struct rusage ru0, ru1;
};

static void complete_frame(struct slot *s, int failed, uint64_t now, struct clockwork *c, enum phase p, int *issuing, int *inflight) {
  struct request *q = &g.reqs[s->req];
  s->active = 0;
  if (failed) q->failed = 1;
  if (--q->pending > 0) return;
  (*inflight)--;
  if (!q->failed && p == P_MAIN) {
    if (now >= c->measure_from && now < c->measure_to) {
      g.requests++;
      g.bytes += (uint64_t)q->nsect * SECTOR;
      g.hist[bucket_of((now - q->start) / 1000)]++;
    }
    if (q->write && g.written) {
      uint64_t blk = (q->lba - g.first) / (uint64_t)g.reqsect;
      g.written[blk >> 3] |= (uint8_t)(1 << (blk & 7));
    }
  }
  uint64_t lba;
  uint32_t nsect;
  int write;
  if (*issuing && now < c->stop_issuing && next_request(p, &lba, &nsect, &write)) {
    start_request(s->req, lba, nsect, write, now);
    (*inflight)++;
  } else {
    *issuing = 0;
  }
}

static void on_reply(uint8_t *f, unsigned n, uint64_t now, struct clockwork *c, enum phase p, int *issuing, int *inflight) {
  if (n < OFF_DATA || !(f[OFF_VERFLAGS] & FLAG_R) || f[OFF_CMD] != CMD_ATA) return; /* not an ATA reply (an announcement, a request) */
  g.received++;
  uint32_t tag = get32(f + OFF_TAG);
  if (tag == probe_tag) { /* a second copy of the IDENTIFY reply */
    g.duplicates++;
    return;
  }
  uint32_t i = tag & (MAX_SLOTS - 1);
  int ours = (tag & 0x80000000u) && i < (uint32_t)(g.depth * g.fpr) && memcmp(f + OFF_SRC, g.tmac, 6) == 0;
  struct slot *s = ours ? &g.slots[i] : NULL;
  if (!s || !s->active || s->tag != tag) {
    uint32_t gen = tag >> SLOT_BITS & GEN_MASK;
    /* a transmission of this place that was sent (gens so far) but is no longer current */
    if (s && s->gens > 0 && ((s->gens - 1 - gen) & GEN_MASK) < s->gens) g.duplicates++;
    else g.stray++;
    return;
  }
  int failed = 0;
  if (f[OFF_VERFLAGS] & FLAG_E) {
    g.errors++;
    failed = 1;
    note_error("AoE error %llu at LBA %llu", f[OFF_ERROR], s->lba);
  } else if (f[OFF_ATACMD] & ST_FAILED) {
    g.errors++;
    failed = 1;
    note_error("ATA status 0x%llx at LBA %llu", f[OFF_ATACMD], s->lba);
  } else if (!s->write) {
    if (n < OFF_DATA + (unsigned)s->nsect * SECTOR) {
      g.errors++;
      failed = 1;
      note_error("short read reply, %llu bytes, at LBA %llu", n, s->lba);
    } else if (g.verify) {
      for (int k = 0; k < s->nsect; k++) {
        g.verified++;
        if (!pattern_check(f + OFF_DATA + k * SECTOR, s->lba + (uint64_t)k, g.seed)) {
          g.verify_failures++;
          note_error("verify: sector %llu differs (frame LBA %llu)", s->lba + (uint64_t)k, s->lba);
        }
      }
    }
  }
  complete_frame(s, failed, now, c, p, issuing, inflight);
}

static void phase_line(const char *type) {
  if (!g.phases) return;
  printf("{\"type\":\"%s\",\"mode\":\"%s\"}\n", type, mode_names[g.mode]);
  fflush(stdout);
}

static void run_phase(enum phase p, double warmup_s, double duration_s, struct clockwork *c) {
  static uint8_t rxbuf[RX_BATCH][RX_BUF];
  static struct mmsghdr rx[RX_BATCH];
  static struct iovec rxv[RX_BATCH];
  for (int k = 0; k < RX_BATCH; k++) {
    rxv[k] = (struct iovec){rxbuf[k], RX_BUF};
    rx[k].msg_hdr = (struct msghdr){.msg_iov = &rxv[k], .msg_iovlen = 1};
  }
  uint64_t t0 = now_ns();
  memset(c, 0, sizeof *c);
  c->stop_issuing = UINT64_MAX;
  if (p == P_MAIN) {
    c->measure_from = t0 + (uint64_t)(warmup_s * 1e9);
    c->measure_to = c->measure_from + (uint64_t)(duration_s * 1e9);
    c->stop_issuing = c->measure_to;
  }
  g.cursor = 0;
  int issuing = 1, inflight = 0;
  for (int r = 0; r < g.depth; r++) {
    uint64_t lba;
    uint32_t nsect;
    int write;
    if (!next_request(p, &lba, &nsect, &write)) {
      issuing = 0;
      break;
    }
    start_request(r, lba, nsect, write, t0);
    inflight++;
  }
  flush_tx();
  uint64_t next_check = t0 + g.timeout_ns;
  while (inflight > 0) {
    uint64_t now = now_ns();
    if (p == P_MAIN && !c->began && now >= c->measure_from) {
      c->began = 1;
      getrusage(RUSAGE_SELF, &c->ru0);
      phase_line("begin");
    }
    if (p == P_MAIN && c->began && !c->ended && now >= c->measure_to) {
      c->ended = 1;
      getrusage(RUSAGE_SELF, &c->ru1);
      phase_line("end");
    }
    uint64_t wake = next_check;
    if (p == P_MAIN && !c->began && c->measure_from < wake) wake = c->measure_from;
    if (p == P_MAIN && !c->ended && c->measure_to < wake) wake = c->measure_to;
    struct pollfd pfd = {.fd = g.l.fd, .events = POLLIN};
    if (g.spin_ns && now - g.last_rx < g.spin_ns) {
      /* spinning: straight to the nonblocking receive */
    } else if (wake > now) {
      uint64_t d = wake - now;
      struct timespec ts = {(time_t)(d / 1000000000u), (long)(d % 1000000000u)};
      if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR) die("ppoll");
    }
    for (;;) {
      int n = recvmmsg(g.l.fd, rx, RX_BATCH, MSG_DONTWAIT, NULL);
      if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) die("recvmmsg");
        break;
      }
      now = g.last_rx = now_ns();
      for (int k = 0; k < n; k++) on_reply(rxbuf[k], rx[k].msg_len, now, c, p, &issuing, &inflight);
      flush_tx();
      if (n < RX_BATCH) break;
    }
    now = now_ns();
    if (now >= next_check) {
      /* resend what waited too long; give up on what was resent too often */
      next_check = now + g.timeout_ns;
      for (int i = 0; i < g.depth * g.fpr; i++) {
        struct slot *s = &g.slots[i];
        if (!s->active) continue;
        if (now - s->sent >= g.timeout_ns) {
          if (s->tries >= g.retries) {
            g.timeouts++;
            note_error("no reply after %llu resends, LBA %llu", s->tries, s->lba);
            complete_frame(s, 1, now, c, p, &issuing, &inflight);
            continue;
          }
          s->tries++;
          g.resends++;
          transmit(i, now);
        }
        if (s->active && s->sent + g.timeout_ns < next_check) next_check = s->sent + g.timeout_ns;
      }
      flush_tx();
    }
  }
  if (p == P_MAIN && !c->ended) {
    getrusage(RUSAGE_SELF, &c->ru1);
    if (c->began) phase_line("end");
    c->ended = 1;
  }
}

/* ---- finding the target --------------------------------------------------------------------- */

/* Sends `req` (len bytes) every 250 ms until a reply `accept` likes arrives or `ms` pass; the reply is left in `out`. */
static int exchange(uint8_t *req, unsigned len, int ms, int (*accept)(const uint8_t *, unsigned), uint8_t *out) {
  uint64_t end = now_ns() + (uint64_t)ms * 1000000u, resend = 0;
  while (now_ns() < end) {
    if (now_ns() >= resend) {
      if (send(g.l.fd, req, len, 0) < 0) die("send");
      resend = now_ns() + 250000000u;
    }
    struct pollfd pfd = {.fd = g.l.fd, .events = POLLIN};
    if (poll(&pfd, 1, 50) <= 0) continue;
    ssize_t n;
    while ((n = recv(g.l.fd, out, RX_BUF, MSG_DONTWAIT)) > 0)
      if (accept(out, (unsigned)n)) return (int)n;
  }
  return -1;
}

static int want_config(const uint8_t *f, unsigned n) {
  if (n < OFF_CSTR || !(f[OFF_VERFLAGS] & FLAG_R) || (f[OFF_VERFLAGS] & FLAG_E) || f[OFF_CMD] != CMD_QC) return 0;
  /* an unsolicited announcement (any tag) is as good as our reply */
  return g.shelf < 0 || (get16(f + OFF_MAJOR) == g.shelf && f[OFF_MINOR] == g.slot);
}
static int want_identify(const uint8_t *f, unsigned n) {
  return n >= OFF_DATA + SECTOR && (f[OFF_VERFLAGS] & FLAG_R) && f[OFF_CMD] == CMD_ATA && get32(f + OFF_TAG) == probe_tag &&
         memcmp(f + OFF_SRC, g.tmac, 6) == 0;
}

static void find_target(int ms) {
  static uint8_t req[MIN_FRAME], rep[RX_BUF];
  static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  probe_tag = 0x80000000u | (uint32_t)(getpid() & 0xffff) << (SLOT_BITS + 1) | (MAX_SLOTS - 1);
  memset(req, 0, sizeof req);
  header(req, bcast, g.shelf < 0 ? 0xffff : g.shelf, g.shelf < 0 ? 0xff : g.slot, CMD_QC, probe_tag);
  if (exchange(req, sizeof req, ms, want_config, rep) < 0) {
    fprintf(stderr, "loadgen: no target answered Query Config on %s within %d ms\n", g.l.name, ms);
    printf("{\"error\":\"no target answered\"}\n");
    exit(1);
  }
  memcpy(g.tmac, rep + OFF_SRC, 6);
  g.shelf = get16(rep + OFF_MAJOR);
  g.slot = rep[OFF_MINOR];
  g.bufcnt = get16(rep + OFF_BUFCNT);
  g.qc_scnt = rep[OFF_QC_SCNT];
  probe_tag += 1u << SLOT_BITS;
  memset(req, 0, sizeof req);
  header(req, g.tmac, g.shelf, g.slot, CMD_ATA, probe_tag);
  req[OFF_SCNT] = 1;
  req[OFF_ATACMD] = ATA_IDENTIFY;
  if (exchange(req, sizeof req, ms, want_identify, rep) < 0) {
    fprintf(stderr, "loadgen: e%d.%d did not answer IDENTIFY within %d ms\n", g.shelf, g.slot, ms);
    printf("{\"error\":\"no IDENTIFY reply\"}\n");
    exit(1);
  }
  const uint8_t *w = rep + OFF_DATA; /* IDENTIFY words are little-endian */
#define WORD(k) ((uint64_t)(w[2 * (k)] | w[2 * (k) + 1] << 8))
  g.size = WORD(100) | WORD(101) << 16 | WORD(102) << 32 | WORD(103) << 48;
  if (!g.size) g.size = WORD(60) | WORD(61) << 16;
#undef WORD
}

/* ---- main ----------------------------------------------------------------------------------- */

static double number(const char *s, const char *what, double min) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end || !(v >= min)) {
    char m[128];
    snprintf(m, sizeof m, "%s \"%s\" is not a number >= %g", what, s, min);
    usage(m);
  }
  return v;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"interface", 1, 0, 'i'}, {"target", 1, 0, 't'},  {"mode", 1, 0, 'm'},    {"window", 1, 0, 'w'},  {"sectors", 1, 0, 's'},
      {"duration", 1, 0, 'd'},  {"warmup", 1, 0, 'W'},  {"region", 1, 0, 'r'},  {"verify", 0, 0, 'v'},  {"seed", 1, 0, 'S'},
      {"timeout", 1, 0, 'T'},   {"retries", 1, 0, 'R'}, {"phases", 0, 0, 'p'},  {"spin", 1, 0, 'P'},    {"help", 0, 0, 'h'},
      {0, 0, 0, 0}};
  const char *ifname = NULL, *region = NULL;
  double duration = 5, warmup = 0;
  int window = 0, sectors = 0;
  g.shelf = -1;
  g.seed = 1;
  g.timeout_ns = 200000000u;
  g.retries = 5;
  int c;
  while ((c = getopt_long(argc, argv, "i:t:m:w:s:d:r:h", opts, NULL)) != -1) {
    switch (c) {
    case 'i': ifname = optarg; break;
    case 't': {
      unsigned sh, sl;
      char extra;
      if (optarg[0] == 'e') optarg++;
      if (sscanf(optarg, "%u.%u%c", &sh, &sl, &extra) != 2 || sh >= 0xffff || sl >= 0xff) usage("--target is shelf.slot, such as 7.1");
      g.shelf = (int)sh;
      g.slot = (int)sl;
      break;
    }
    case 'm': {
      int k;
      for (k = 0; k < 4 && strcmp(optarg, mode_names[k]); k++) {}
      if (k == 4) usage("--mode is read, write, randread or randwrite");
      g.mode = (enum mode)k;
      break;
    }
    case 'w': window = (int)number(optarg, "--window", 1); break;
    case 's': sectors = (int)number(optarg, "--sectors", 1); break;
    case 'd': duration = number(optarg, "--duration", 0.001); break;
    case 'W': warmup = number(optarg, "--warmup", 0); break;
    case 'r': region = optarg; break;
    case 'v': g.verify = 1; break;
    case 'S': g.seed = (uint64_t)number(optarg, "--seed", 0); break;
    case 'T': g.timeout_ns = (uint64_t)(number(optarg, "--timeout", 1) * 1e6); break;
    case 'R': g.retries = (int)number(optarg, "--retries", 0); break;
    case 'p': g.phases = 1; break;
    case 'P': g.spin_ns = (uint64_t)(number(optarg, "--spin", 0) * 1e3); break;
    case 'h':
      printf("usage: loadgen -i IFACE [-t SHELF.SLOT] [-m read|write|randread|randwrite] [-w WINDOW] [-s SECTORS]\n"
             "               [-d SECONDS] [--warmup S] [-r FIRST:COUNT] [--verify] [--seed N] [--timeout MS] [--retries N] [--phases]\n"
             "               [--spin US]\n");
      return 0;
    default: usage("unknown option");
    }
  }
  if (!ifname) usage("which interface? -i IFACE");
  if (optind < argc) usage("unexpected argument");
  if (g.retries > 250) usage("--retries is at most 250");
  link_open(&g.l, ifname, 8 << 20);
  find_target((int)(g.timeout_ns / 1000000u * 10 > 2000 ? g.timeout_ns / 1000000u * 10 : 2000));

  g.maxsect = (g.l.mtu - 36) / SECTOR;
  if (g.qc_scnt > 0 && g.qc_scnt < g.maxsect) g.maxsect = g.qc_scnt;
  if (g.maxsect < 1) usage("the MTU is too small for one sector per frame");
  int random = g.mode == M_RANDREAD || g.mode == M_RANDWRITE;
  g.reqsect = sectors ? sectors : random ? 8 : g.maxsect;
  g.fpr = (g.reqsect + g.maxsect - 1) / g.maxsect;
  g.window = window ? window : (g.bufcnt > 0 ? g.bufcnt : 16);
  g.depth = g.window / g.fpr > 0 ? g.window / g.fpr : 1;
  if (g.depth * g.fpr > MAX_SLOTS - 1) usage("--window times frames per request is more than 2047");
  g.first = 0;
  g.count = g.size;
  if (region) {
    unsigned long long a = 0, n;
    char extra;
    if (sscanf(region, "%llu:%llu%c", &a, &n, &extra) != 2) {
      a = 0;
      if (sscanf(region, "%llu%c", &n, &extra) != 1) usage("--region is FIRST:COUNT or COUNT, in sectors");
    }
    g.first = a;
    g.count = n;
  }
  if (g.first + g.count > g.size || g.count < (uint64_t)g.reqsect) {
    fprintf(stderr, "loadgen: region %llu:%llu does not fit e%d.%d (%llu sectors) or is smaller than one request (%d sectors)\n",
            (unsigned long long)g.first, (unsigned long long)g.count, g.shelf, g.slot, (unsigned long long)g.size, g.reqsect);
    return 2;
  }
  g.nblocks = g.count / (uint64_t)g.reqsect;
  g.rng = mix64(g.seed) | 1;
  g.slots = calloc((size_t)(g.depth * g.fpr), sizeof *g.slots);
  g.reqs = calloc((size_t)g.depth, sizeof *g.reqs);
  size_t flen = OFF_DATA + (size_t)g.maxsect * SECTOR < MIN_FRAME ? MIN_FRAME : OFF_DATA + (size_t)g.maxsect * SECTOR;
  for (int i = 0; i < g.depth * g.fpr; i++) {
    g.slots[i].buf = calloc(1, flen);
    /* write data without --verify: arbitrary bytes, set once */
    for (size_t k = OFF_DATA; k + 8 <= flen; k += 8) {
      uint64_t v = mix64(k ^ (uint64_t)i << 32);
      memcpy(g.slots[i].buf + k, &v, 8);
    }
  }
  int writes = g.mode == M_WRITE || g.mode == M_RANDWRITE;
  if (g.verify && writes) g.written = calloc((size_t)(g.nblocks / 8 + 1), 1);

  struct clockwork ck, main_ck;
  if (g.verify && !writes) run_phase(P_FILL, 0, 0, &ck);
  run_phase(P_MAIN, warmup, duration, &main_ck);
  if (g.written) run_phase(P_CHECK, 0, 0, &ck);

  double cpu = (double)(main_ck.ru1.ru_utime.tv_sec - main_ck.ru0.ru_utime.tv_sec + main_ck.ru1.ru_stime.tv_sec - main_ck.ru0.ru_stime.tv_sec) +
               (double)(main_ck.ru1.ru_utime.tv_usec - main_ck.ru0.ru_utime.tv_usec + main_ck.ru1.ru_stime.tv_usec - main_ck.ru0.ru_stime.tv_usec) / 1e6;
  char err[sizeof g.first_error * 2] = "";
  for (char *s = g.first_error, *d = err; *s; s++) *d++ = (*s == '"' || *s == '\\') ? '\'' : *s;
  printf("{\"type\":\"result\",\"mode\":\"%s\",\"target\":\"e%d.%d\",\"target_mac\":\"%02x:%02x:%02x:%02x:%02x:%02x\",\"mtu\":%d,"
         "\"bufcnt\":%d,\"size_sectors\":%llu,\"region_first\":%llu,\"region_sectors\":%llu,\"window\":%d,\"depth\":%d,"
         "\"sectors\":%d,\"frames_per_request\":%d,\"seconds\":%.6f,\"requests\":%llu,\"bytes\":%llu,\"mbps\":%.3f,\"iops\":%.1f,"
         "\"frames_per_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"resends\":%llu,\"errors\":%llu,\"timeouts\":%llu,"
         "\"verify\":%s,\"verified_sectors\":%llu,\"verify_failures\":%llu,\"duplicates\":%llu,\"stray\":%llu,"
         "\"frames_sent\":%llu,\"frames_received\":%llu,\"cpu_s\":%.3f,\"first_error\":\"%s\"}\n",
         mode_names[g.mode], g.shelf, g.slot, g.tmac[0], g.tmac[1], g.tmac[2], g.tmac[3], g.tmac[4], g.tmac[5], g.l.mtu, g.bufcnt,
         (unsigned long long)g.size, (unsigned long long)g.first, (unsigned long long)g.count, g.window, g.depth, g.reqsect, g.fpr,
         duration, (unsigned long long)g.requests, (unsigned long long)g.bytes, (double)g.bytes / 1e6 / duration,
         (double)g.requests / duration, (double)g.requests * g.fpr / duration, percentile(0.5), percentile(0.99),
         (unsigned long long)g.resends, (unsigned long long)g.errors, (unsigned long long)g.timeouts, g.verify ? "true" : "false",
         (unsigned long long)g.verified, (unsigned long long)g.verify_failures, (unsigned long long)g.duplicates,
         (unsigned long long)g.stray, (unsigned long long)g.sent, (unsigned long long)g.received, cpu, err);
  if (g.first_error[0]) fprintf(stderr, "loadgen: first error: %s\n", g.first_error);
  return g.requests == 0 || g.errors || g.timeouts || g.verify_failures ? 1 : 0;
}

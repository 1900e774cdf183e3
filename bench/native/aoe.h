/*
 * aoe.h — what the native load generator and the native null target share:
 * the AoE r11 frame layout, the raw link (AF_PACKET bound to one interface,
 * ethertype 0x88A2), the clock, and the data pattern derived from an LBA and
 * a seed (so that a reader can check what a writer wrote, or what the null
 * target made up, without keeping a copy).
 *
 * Header only (static functions): each program is one `cc -O2 file.c`.
 */
#ifndef AOEDE_NATIVE_AOE_H
#define AOEDE_NATIVE_AOE_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define AOE_ETHERTYPE 0x88A2
#define SECTOR 512

/* Offsets in the frame (AoE r11 section 2): Ethernet 6 + 6 + 2, then the AoE header. */
#define OFF_DST 0
#define OFF_SRC 6
#define OFF_TYPE 12
#define OFF_VERFLAGS 14 /* version << 4 | flags */
#define OFF_ERROR 15
#define OFF_MAJOR 16
#define OFF_MINOR 18
#define OFF_CMD 19
#define OFF_TAG 20
#define OFF_ARG 24 /* 6 + 6 + 2 + 1 + 1 + 2 + 1 + 1 + 4 */

/* ATA argument (section 3.1), at OFF_ARG */
#define OFF_AFLAGS 24
#define OFF_FEATURE 25 /* err on reply */
#define OFF_SCNT 26
#define OFF_ATACMD 27 /* status on reply */
#define OFF_LBA 28    /* lba0..lba5, least significant first, then 2 reserved */
#define OFF_DATA 36   /* 24 + 1 + 1 + 1 + 1 + 6 + 2 */

/* Query Config argument (section 3.2), at OFF_ARG */
#define OFF_BUFCNT 24
#define OFF_FWVER 26
#define OFF_QC_SCNT 28
#define OFF_VERCCMD 29
#define OFF_CSLEN 30
#define OFF_CSTR 32 /* 24 + 2 + 2 + 1 + 1 + 2 */

#define AOE_VER 1
#define FLAG_R 0x08
#define FLAG_E 0x04
#define CMD_ATA 0
#define CMD_QC 1
#define AFLAG_E 0x40 /* LBA48 */
#define AFLAG_W 0x01
#define ATA_READ 0x20
#define ATA_READ_EXT 0x24
#define ATA_WRITE 0x30
#define ATA_WRITE_EXT 0x34
#define ATA_IDENTIFY 0xEC
#define ATA_CHECK_POWER 0xE5
#define ATA_FLUSH 0xE7
#define ATA_FLUSH_EXT 0xEA
#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_DF 0x20
#define ST_DRDY 0x40
#define ST_BSY 0x80
#define ST_FAILED (ST_BSY | ST_DF | ST_DRQ | ST_ERR) /* 0xA9: what initiators treat as failure */
#define ERR_ABRT 0x04
#define ERR_IDNF 0x10
#define MIN_FRAME 60 /* Ethernet minimum without FCS: shorter frames are zero-padded */

static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static inline uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static inline void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }
static inline uint64_t get_lba48(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 5; i >= 0; i--) v = v << 8 | p[i];
  return v;
}
static inline void put_lba48(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 6; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the pattern ---------------------------------------------------------------------------- */

/* splitmix64's finaliser: every bit of the input moves every bit of the output */
static inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* Sector `lba` under `seed`: 64 words, word k = mix64(seed ^ lba) + k * golden ratio. */
static inline void pattern_fill(uint8_t *dst, uint64_t lba, uint64_t seed) {
  uint64_t w = mix64(seed ^ (lba * 0x9e3779b97f4a7c15ull + 1));
  for (int k = 0; k < SECTOR / 8; k++, w += 0x9e3779b97f4a7c15ull) memcpy(dst + 8 * k, &w, 8);
}

/* 1 when the sector at `src` holds the pattern of `lba` */
static inline int pattern_check(const uint8_t *src, uint64_t lba, uint64_t seed) {
  uint64_t w = mix64(seed ^ (lba * 0x9e3779b97f4a7c15ull + 1)), v;
  for (int k = 0; k < SECTOR / 8; k++, w += 0x9e3779b97f4a7c15ull) {
    memcpy(&v, src + 8 * k, 8);
    if (v != w) return 0;
  }
  return 1;
}

/* ---- the raw link --------------------------------------------------------------------------- */

struct link {
  int fd;
  int ifindex;
  int mtu;
  uint8_t mac[6];
  const char *name;
};

static void die(const char *what) {
  fprintf(stderr, "%s: %s\n", what, strerror(errno));
  exit(1);
}

/* An AF_PACKET socket for AoE frames on `name` only, not seeing its own sends. */
static void link_open(struct link *l, const char *name, int rcvbuf) {
  struct ifreq ifr;
  memset(l, 0, sizeof *l);
  l->name = name;
  if (strlen(name) >= IFNAMSIZ) {
    fprintf(stderr, "interface name too long: %s\n", name);
    exit(2);
  }
  l->fd = socket(AF_PACKET, SOCK_RAW, htons(AOE_ETHERTYPE));
  if (l->fd < 0) die("socket(AF_PACKET) (needs root or CAP_NET_RAW)");
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, name);
  if (ioctl(l->fd, SIOCGIFINDEX, &ifr) < 0) die(name);
  l->ifindex = ifr.ifr_ifindex;
  if (ioctl(l->fd, SIOCGIFMTU, &ifr) < 0) die("SIOCGIFMTU");
  l->mtu = ifr.ifr_mtu;
  if (ioctl(l->fd, SIOCGIFHWADDR, &ifr) < 0) die("SIOCGIFHWADDR");
  memcpy(l->mac, ifr.ifr_hwaddr.sa_data, 6);
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(AOE_ETHERTYPE), .sll_ifindex = l->ifindex};
  if (bind(l->fd, (struct sockaddr *)&sll, sizeof sll) < 0) die("bind");
  int one = 1;
  setsockopt(l->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one); /* Linux >= 4.20; else filtered by the R flag */
  /* SO_RCVBUFFORCE passes rmem_max as root; fall back to what the limit allows */
  if (setsockopt(l->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (setsockopt(l->fd, SOL_SOCKET, SO_SNDBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) setsockopt(l->fd, SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof rcvbuf);
}

#endif

/*
 * flood.c — the soak campaign's frame cannon. It does not make frames: it sends
 * the ones soak/frames.ts makes, as fast as the kernel takes them, exactly as
 * given — a frame of 17 bytes leaves as 17 bytes (the project's links pad every
 * frame to 60, which would hide the truncations the flood is about).
 *
 *   flood IFNAME [PPS]     run inside the namespace of IFNAME
 *
 * stdin: records of a 2-byte little-endian length, then that many bytes (a whole
 * Ethernet frame from the destination MAC on, no FCS). Frames go out with one
 * sendmmsg per 64. PPS > 0 paces the sending to about that many frames a second.
 * At end of input, one JSON line on stdout: {"frames":N,"sent":N,"failed":N}.
 * Exit 0, or 1 when the interface cannot be opened.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/ethernet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_FRAME 9216

static uint8_t bufs[BATCH][MAX_FRAME];
static struct iovec iov[BATCH];
static struct mmsghdr msgs[BATCH];
static unsigned long long frames, sent, failed;

static int read_full(uint8_t *p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(0, p + got, n - got);
    if (r == 0) return got == 0 ? 0 : -1;
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    got += (size_t)r;
  }
  return 1;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void send_batch(int fd, int n) {
  int off = 0;
  while (off < n) {
    int r = sendmmsg(fd, msgs + off, (unsigned)(n - off), 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      /* one frame the kernel refuses (EMSGSIZE, ENOBUFS...): count it, go on */
      failed++;
      off++;
      continue;
    }
    sent += (unsigned)r;
    off += r;
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: flood IFNAME [PPS] < frames\n");
    return 2;
  }
  double pps = argc > 2 ? atof(argv[2]) : 0;
  int fd = socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: send only, nothing queued for receive */
  if (fd < 0) {
    perror("flood: socket");
    return 1;
  }
  struct sockaddr_ll sa = {0};
  sa.sll_family = AF_PACKET;
  sa.sll_ifindex = (int)if_nametoindex(argv[1]);
  if (sa.sll_ifindex == 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    fprintf(stderr, "flood: cannot use %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = bufs[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  double t0 = now();
  int n = 0;
  for (;;) {
    uint8_t lenb[2];
    int r = read_full(lenb, 2);
    if (r <= 0) break;
    size_t len = (size_t)lenb[0] | (size_t)lenb[1] << 8;
    if (len > MAX_FRAME || read_full(bufs[n], len) != 1) {
      fprintf(stderr, "flood: bad record of %zu bytes\n", len);
      break;
    }
    iov[n].iov_len = len;
    frames++;
    if (++n == BATCH) {
      send_batch(fd, n);
      n = 0;
      if (pps > 0) {
        double ahead = frames / pps - (now() - t0);
        if (ahead > 0) {
          struct timespec ts = {(time_t)ahead, (long)((ahead - (time_t)ahead) * 1e9)};
          nanosleep(&ts, NULL);
        }
      }
    }
  }
  if (n > 0) send_batch(fd, n);
  printf("{\"frames\":%llu,\"sent\":%llu,\"failed\":%llu,\"seconds\":%.3f}\n", frames, sent, failed, now() - t0);
  return 0;
}

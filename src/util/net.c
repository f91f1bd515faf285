/* Addresses and CIDR lists (net.h). */
#include "util/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void map_v4(const unsigned char v4[4], unsigned char out[16])
{
  memset(out, 0, 10);
  out[10] = out[11] = 0xff;
  memcpy(out + 12, v4, 4);
}

static int is_mapped(const unsigned char a[16])
{
  static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return !memcmp(a, prefix, 12);
}

int cb_addr_parse(const char *text, unsigned char out[16])
{
  unsigned char v4[4];
  if (inet_pton(AF_INET, text, v4) == 1) {
    map_v4(v4, out);
    return 0;
  }
  return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

int cb_addr_from_sockaddr(const struct sockaddr *sa, unsigned char out[16])
{
  if (sa->sa_family == AF_INET) {
    map_v4((const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr, out);
    return 0;
  }
  if (sa->sa_family == AF_INET6) {
    memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    return 0;
  }
  return -1;
}

static int prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
  int bytes = bits / 8, rest = bits % 8;
  if (memcmp(a, b, (size_t)bytes))
    return 0;
  if (!rest)
    return 1;
  unsigned char mask = (unsigned char)(0xff << (8 - rest));
  return (a[bytes] & mask) == (b[bytes] & mask);
}

int cb_cidr_parse_list(const char *spec, struct cb_cidr *out, int max, int *n, struct cb_errbuf *eb)
{
  *n = 0;
  if (!spec)
    return 0;
  const char *p = spec;
  while (*p) {
    while (*p == ',' || *p == ' ' || *p == '\t')
      p++;
    if (!*p)
      break;
    const char *start = p;
    while (*p && *p != ',' && *p != ' ' && *p != '\t')
      p++;
    char item[64];
    size_t len = (size_t)(p - start);
    if (len >= sizeof item || *n == max) {
      cb_errf(eb, "%.*s%s", (int)(len < 60 ? len : 60), start, *n == max ? " (too many entries)" : "");
      return -1;
    }
    memcpy(item, start, len);
    item[len] = '\0';
    char *slash = strchr(item, '/');
    int bits = -1;
    if (slash) {
      *slash = '\0';
      char *end;
      long b = strtol(slash + 1, &end, 10);
      if (end == slash + 1 || *end || b < 0 || b > 128) {
        cb_errf(eb, "%.*s", (int)len, start);
        return -1;
      }
      bits = (int)b;
    }
    struct cb_cidr *c = &out[*n];
    unsigned char v4[4];
    if (inet_pton(AF_INET, item, v4) == 1) {
      if (bits > 32) {
        cb_errf(eb, "%.*s", (int)len, start);
        return -1;
      }
      map_v4(v4, c->addr);
      c->bits = 96 + (bits < 0 ? 32 : bits);
    } else if (inet_pton(AF_INET6, item, c->addr) == 1) {
      c->bits = bits < 0 ? 128 : bits;
    } else {
      cb_errf(eb, "%.*s", (int)len, start);
      return -1;
    }
    (*n)++;
  }
  return 0;
}

int cb_cidr_contains(const struct cb_cidr *list, int n, const unsigned char addr[16])
{
  for (int i = 0; i < n; i++)
    if (prefix_match(addr, list[i].addr, list[i].bits))
      return 1;
  return 0;
}

static int v4_internal(const unsigned char a[4])
{
  static const struct {
    unsigned char net[4];
    int bits;
  } r[] = {
    {{0, 0, 0, 0}, 8},      {{10, 0, 0, 0}, 8},     {{100, 64, 0, 0}, 10}, {{127, 0, 0, 0}, 8},
    {{169, 254, 0, 0}, 16}, {{172, 16, 0, 0}, 12},  {{192, 0, 0, 0}, 24},  {{192, 0, 2, 0}, 24},
    {{192, 88, 99, 0}, 24}, {{192, 168, 0, 0}, 16}, {{198, 18, 0, 0}, 15}, {{198, 51, 100, 0}, 24},
    {{203, 0, 113, 0}, 24}, {{224, 0, 0, 0}, 4},    {{240, 0, 0, 0}, 4},
  };
  for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
    if (prefix_match(a, r[i].net, r[i].bits))
      return 1;
  return 0;
}

int cb_addr_is_internal(const unsigned char a[16])
{
  if (is_mapped(a))
    return v4_internal(a + 12);
  static const struct {
    unsigned char net[16];
    int bits;
  } r[] = {
    {{0}, 96},                         /* ::, ::1, IPv4-compatible */
    {{0, 0x64, 0xff, 0x9b, 0, 1}, 48}, /* local-use NAT64 */
    {{0x01, 0x00}, 64},                /* discard-only */
    {{0x20, 0x01, 0x00, 0x00}, 32},    /* Teredo */
    {{0x20, 0x01, 0x00, 0x10}, 28},    /* ORCHID */
    {{0x20, 0x01, 0x0d, 0xb8}, 32},    /* documentation */
    {{0xfc}, 7},                       /* unique local */
    {{0xfe, 0x80}, 10},                /* link-local */
    {{0xfe, 0xc0}, 10},                /* site-local (deprecated) */
    {{0xff}, 8},                       /* multicast */
  };
  for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
    if (prefix_match(a, r[i].net, r[i].bits))
      return 1;
  static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
  if (!memcmp(a, nat64, 12)) /* 64:ff9b::a.b.c.d reaches a.b.c.d */
    return v4_internal(a + 12);
  if (a[0] == 0x20 && a[1] == 0x02) /* 6to4: 2002:aabb:ccdd:: reaches a.b.c.d */
    return v4_internal(a + 2);
  return 0;
}

void cb_addr_text(const unsigned char addr[16], char *out, size_t cap)
{
  char buf[INET6_ADDRSTRLEN];
  const char *t = is_mapped(addr) ? inet_ntop(AF_INET, addr + 12, buf, sizeof buf)
                                  : inet_ntop(AF_INET6, addr, buf, sizeof buf);
  snprintf(out, cap, "%s", t ? t : "?");
}

/* Addresses: CIDR lists (the trusted proxies, the webhooks' allow-list) and which
 * addresses are internal (what a webhook may not reach unless an admin allows it).
 * IPv4 addresses are held as IPv4-mapped IPv6 (::ffff:a.b.c.d), so every spelling of one
 * address (a.b.c.d, ::ffff:a.b.c.d) is the same 16 bytes. */
#ifndef CB_NET_H
#define CB_NET_H
#include <stddef.h>

#include "util/err.h"

struct sockaddr;

struct cb_cidr {
  unsigned char addr[16]; /* IPv6, or IPv4-mapped */
  int bits;               /* prefix length over the 128 bits */
};

#define CB_CIDR_MAX 64

/* "10.0.0.0/8, fd00::/8, 192.168.1.7" (commas or spaces): 0 and *n entries, or -1 with
 * the offending item in eb. An empty spec is an empty list. */
int cb_cidr_parse_list(const char *spec, struct cb_cidr *out, int max, int *n, struct cb_errbuf *eb);
/* A textual address (IPv4 or IPv6, as inet_pton reads it) to 16 bytes; 0 or -1. */
int cb_addr_parse(const char *text, unsigned char out[16]);
/* The 16 bytes of a sockaddr (AF_INET or AF_INET6); 0 or -1. */
int cb_addr_from_sockaddr(const struct sockaddr *sa, unsigned char out[16]);
int cb_cidr_contains(const struct cb_cidr *list, int n, const unsigned char addr[16]);
/* Loopback, unspecified, link-local, private (RFC 1918, ULA), shared (100.64/10),
 * multicast, broadcast, reserved, documentation, 6to4/Teredo/NAT64 forms of those, and
 * IPv4-compatible IPv6: not a public unicast address. */
int cb_addr_is_internal(const unsigned char addr[16]);
/* The 16 bytes as text (IPv4-mapped ones as a.b.c.d); out holds 46 bytes. */
void cb_addr_text(const unsigned char addr[16], char *out, size_t cap);

#endif

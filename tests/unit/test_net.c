/* Addresses: every spelling of an internal address is internal; CIDR lists. */
#include <string.h>

#include "test.h"
#include "util/net.h"

static int internal(const char *text)
{
  unsigned char a[16];
  return cb_addr_parse(text, a) == 0 && cb_addr_is_internal(a);
}

static int public_(const char *text)
{
  unsigned char a[16];
  return cb_addr_parse(text, a) == 0 && !cb_addr_is_internal(a);
}

int main(void)
{
  /* internal, in several spellings */
  const char *in[] = {"127.0.0.1", "127.1.2.3", "0.0.0.0", "10.1.2.3", "172.16.0.1", "172.31.255.255",
                      "192.168.0.1", "169.254.169.254", "100.64.0.1", "224.0.0.1", "255.255.255.255",
                      "::1", "::", "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:169.254.169.254", "fe80::1",
                      "fc00::1", "fd12:3456::1", "ff02::1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
                      "2002:7f00:1::1", "2002:c0a8:101::", "::127.0.0.1", "2001::1", "2001:db8::1",
                      "192.0.2.10", "198.18.0.1"};
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
    int ok = internal(in[i]);
    CHECK(ok);
    if (!ok)
      fprintf(stderr, "  not internal: %s\n", in[i]);
  }
  const char *out[] = {"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "64:ff9b::808:808",
                       "2002:808:808::1", "::ffff:8.8.8.8"};
  for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) {
    int ok = public_(out[i]);
    CHECK(ok);
    if (!ok)
      fprintf(stderr, "  not public: %s\n", out[i]);
  }
  unsigned char a[16];
  CHECK(cb_addr_parse("0x7f000001", a) != 0); /* inet_pton takes dotted decimal only */
  CHECK(cb_addr_parse("not an address", a) != 0);

  struct cb_cidr list[CB_CIDR_MAX];
  int n = 0;
  struct cb_errbuf eb = {""};
  const char *err = eb.msg;
  CHECK(cb_cidr_parse_list("10.0.0.0/8, 192.168.1.7 fd00::/8", list, CB_CIDR_MAX, &n, &eb) == 0);
  CHECK(n == 3);
  CHECK(cb_addr_parse("10.9.8.7", a) == 0 && cb_cidr_contains(list, n, a));
  CHECK(cb_addr_parse("::ffff:10.9.8.7", a) == 0 && cb_cidr_contains(list, n, a));
  CHECK(cb_addr_parse("192.168.1.7", a) == 0 && cb_cidr_contains(list, n, a));
  CHECK(cb_addr_parse("192.168.1.8", a) == 0 && !cb_cidr_contains(list, n, a));
  CHECK(cb_addr_parse("fd99::1", a) == 0 && cb_cidr_contains(list, n, a));
  CHECK(cb_addr_parse("fe80::1", a) == 0 && !cb_cidr_contains(list, n, a));
  CHECK(cb_cidr_parse_list("", list, CB_CIDR_MAX, &n, &eb) == 0 && n == 0);
  CHECK(cb_cidr_parse_list("10.0.0.0/33", list, CB_CIDR_MAX, &n, &eb) == -1 && !strcmp(err, "10.0.0.0/33"));
  CHECK(cb_cidr_parse_list("10.0.0.0/8,bogus", list, CB_CIDR_MAX, &n, &eb) == -1 && !strcmp(err, "bogus"));
  CHECK(cb_cidr_parse_list("::/0", list, CB_CIDR_MAX, &n, &eb) == 0 && n == 1);
  CHECK(cb_addr_parse("8.8.8.8", a) == 0 && cb_cidr_contains(list, n, a));
  char text[64];
  CHECK(cb_addr_parse("::ffff:1.2.3.4", a) == 0);
  cb_addr_text(a, text, sizeof text);
  CHECK(!strcmp(text, "1.2.3.4"));
  TEST_MAIN_END();
}

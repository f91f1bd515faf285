#include <string.h>

#include "test.h"
#include "util/hash.h"
#include "util/util.h"

int main(void)
{
  char out[128];

  /* percent-decoding refuses NUL and malformed escapes */
  CHECK(cb_url_decode("a%20b", 5, out, sizeof out, 0) == 3 && !strcmp(out, "a b"));
  CHECK(cb_url_decode("a+b", 3, out, sizeof out, 1) == 3 && !strcmp(out, "a b"));
  CHECK(cb_url_decode("a%00b", 5, out, sizeof out, 0) < 0);
  CHECK(cb_url_decode("a%2", 3, out, sizeof out, 0) < 0);
  CHECK(cb_url_decode("a%zz", 4, out, sizeof out, 0) < 0);
  CHECK(cb_url_decode("%", 1, out, sizeof out, 0) < 0);

  /* names */
  CHECK(cb_name_invalid("data.sdf") == NULL);
  CHECK(cb_name_invalid("спектр 1.csv") == NULL);
  CHECK(cb_name_invalid("") != NULL);
  CHECK(cb_name_invalid(".") != NULL);
  CHECK(cb_name_invalid("..") != NULL);
  CHECK(cb_name_invalid("a/b") != NULL);
  CHECK(cb_name_invalid("a\\b") != NULL);
  CHECK(cb_name_invalid("a\nb") != NULL);
  CHECK(cb_name_invalid("\xff\xfe") != NULL);
  char longname[300];
  memset(longname, 'x', 299);
  longname[299] = '\0';
  CHECK(cb_name_invalid(longname) != NULL);

  /* UTF-8: overlong and surrogate encodings are invalid */
  CHECK(cb_utf8_valid("\xc3\xa9", 2));
  CHECK(!cb_utf8_valid("\xc0\xaf", 2));
  CHECK(!cb_utf8_valid("\xed\xa0\x80", 3));
  CHECK(!cb_utf8_valid("\xe2\x82", 2)); /* cut off */

  /* the UTF-8 reader: lengths and code points, the smallest and largest of each length */
  uint32_t cp = 0;
  CHECK(cb_utf8_next("A", 1, &cp) == 1 && cp == 'A');
  CHECK(cb_utf8_next("\xc2\x80", 2, &cp) == 2 && cp == 0x80);
  CHECK(cb_utf8_next("\xdf\xbf", 2, &cp) == 2 && cp == 0x7ff);
  CHECK(cb_utf8_next("\xe0\xa0\x80", 3, &cp) == 3 && cp == 0x800);
  CHECK(cb_utf8_next("\xe2\x82\xac!", 4, &cp) == 3 && cp == 0x20ac); /* reads one character */
  CHECK(cb_utf8_next("\xef\xbf\xbf", 3, &cp) == 3 && cp == 0xffff);
  CHECK(cb_utf8_next("\xf0\x90\x80\x80", 4, &cp) == 4 && cp == 0x10000);
  CHECK(cb_utf8_next("\xf4\x8f\xbf\xbf", 4, &cp) == 4 && cp == 0x10ffff);
  CHECK(cb_utf8_next("\xed\x9f\xbf", 3, &cp) == 3 && cp == 0xd7ff);
  CHECK(cb_utf8_next("\xee\x80\x80", 3, &cp) == 3 && cp == 0xe000);
  /* a character cut off by the buffer's end: -1, whatever lies beyond it (here a byte
   * that would complete it, and NUL, which would end it) */
  CHECK(cb_utf8_next("\xc3\xa9", 1, NULL) == -1);
  CHECK(cb_utf8_next("\xe2\x82\xac", 2, NULL) == -1);
  CHECK(cb_utf8_next("\xe2\x82", 1, NULL) == -1);
  CHECK(cb_utf8_next("\xf0\x9f\x98\x80", 3, NULL) == -1);
  CHECK(cb_utf8_next("\xf4\x8f", 2, NULL) == -1);
  CHECK(cb_utf8_next("", 0, NULL) == -1);
  /* ...but a beginning no byte could complete is invalid at once */
  CHECK(cb_utf8_next("\xe0\x80", 2, NULL) == 0);     /* overlong, whatever follows */
  CHECK(cb_utf8_next("\xed\xa0", 2, NULL) == 0);     /* a surrogate */
  CHECK(cb_utf8_next("\xf0\x80", 2, NULL) == 0);     /* overlong */
  CHECK(cb_utf8_next("\xf4\x90", 2, NULL) == 0);     /* beyond U+10FFFF */
  CHECK(cb_utf8_next("\xe2\x28\xa1", 2, NULL) == 0); /* not a continuation */
  /* overlong forms */
  CHECK(cb_utf8_next("\xc0\x80", 2, NULL) == 0);
  CHECK(cb_utf8_next("\xc1\xbf", 2, NULL) == 0);
  CHECK(cb_utf8_next("\xe0\x9f\xbf", 3, NULL) == 0);
  CHECK(cb_utf8_next("\xf0\x8f\xbf\xbf", 4, NULL) == 0);
  /* surrogates, beyond U+10FFFF, bytes that start nothing */
  CHECK(cb_utf8_next("\xed\xa0\x80", 3, NULL) == 0);
  CHECK(cb_utf8_next("\xed\xbf\xbf", 3, NULL) == 0);
  CHECK(cb_utf8_next("\xf4\x90\x80\x80", 4, NULL) == 0);
  CHECK(cb_utf8_next("\xf5\x80\x80\x80", 4, NULL) == 0);
  CHECK(cb_utf8_next("\xff", 1, NULL) == 0);
  CHECK(cb_utf8_next("\x80", 1, NULL) == 0);
  CHECK(cb_utf8_next("\xc3\x28", 2, NULL) == 0);

  /* ISO-8859-1 to UTF-8 */
  struct cb_buf l1 = {0};
  CHECK(cb_buf_latin1(&l1, "caf\xe9 \xff\x80", 7) == CB_OK && l1.len == 10 &&
        !memcmp(l1.data, "caf\xc3\xa9 \xc3\xbf\xc2\x80", 10));
  CHECK(cb_buf_latin1(&l1, "", 0) == CB_OK && l1.len == 10);
  cb_buf_reset(&l1);
  char big[3000];
  memset(big, 0xe9, sizeof big); /* longer than one pass of iconv */
  CHECK(cb_buf_latin1(&l1, big, sizeof big) == CB_OK && l1.len == 6000 && cb_utf8_valid(l1.data, l1.len));
  cb_buf_free(&l1);

  /* FNV-1a (its published test vectors) */
  CHECK(cb_fnv1a("") == 0x811c9dc5u);
  CHECK(cb_fnv1a("a") == 0xe40c292cu);
  CHECK(cb_fnv1a("foobar") == 0xbf9cf968u);

  /* sizes */
  uint64_t sz;
  CHECK(cb_parse_size("10G", &sz) == 0 && sz == 10ull << 30);
  CHECK(cb_parse_size("1048576", &sz) == 0 && sz == 1048576);
  CHECK(cb_parse_size("64MiB", &sz) == 0 && sz == 64ull << 20);
  CHECK(cb_parse_size("-1", &sz) != 0);
  CHECK(cb_parse_size("12Q", &sz) != 0);
  CHECK(cb_parse_size("99999999999999999999T", &sz) != 0);

  /* ids */
  char id[CB_ID_LEN + 1], id2[CB_ID_LEN + 1];
  CHECK(cb_id_new(id) == CB_OK && cb_id_valid(id));
  CHECK(cb_id_new(id2) == CB_OK && strcmp(id, id2));
  CHECK(!cb_id_valid("../../etc/passwd"));
  CHECK(!cb_id_valid("ABCDEF0123456789abcdef01"));

  /* sha256 of "abc" (FIPS 180-2 test vector) */
  char hex[CB_SHA256_HEX];
  cb_sha256_hex("abc", 3, hex);
  CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));

  /* growable buffers and JSON string escaping */
  struct cb_buf b = {0};
  cb_buf_json_string(&b, "a\"b\\c\n\x01");
  CHECK(!strcmp(b.data, "\"a\\\"b\\\\c\\n\\u0001\""));
  cb_buf_free(&b);
  cb_buf_free(&b); /* freeing twice is harmless */

  TEST_MAIN_END();
}

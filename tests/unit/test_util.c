#include <string.h>

#include "test.h"
#include "util/hash.h"
#include "util/util.h"

int main(void)
{
  char out[128];
  unsigned char raw[64];

  /* base64 both ways, with and without padding, and the URL alphabet */
  cb_base64_encode((const unsigned char *)"hello", 5, out, 0);
  CHECK(!strcmp(out, "aGVsbG8="));
  cb_base64_encode((const unsigned char *)"hello", 5, out, 1);
  CHECK(!strcmp(out, "aGVsbG8"));
  long n = cb_base64_decode("aGVsbG8=", 8, raw, sizeof raw);
  CHECK(n == 5 && !memcmp(raw, "hello", 5));
  CHECK(cb_base64_decode("a$b=", 4, raw, sizeof raw) < 0);
  CHECK(cb_base64_decode("aGVsbG8=", 8, raw, 3) < 0); /* does not fit */

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

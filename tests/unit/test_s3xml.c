/* The reader of S3's XML answers (store/s3xml.c) against hand-written answers. */
#include <string.h>

#include "store/s3xml.h"
#include "test.h"

struct seen {
  char keys[4][64];
  int n, stop_after;
};

static char key[64], size[32];
static struct s3xml_field rec[2] = {{"Key", key, sizeof key, 0}, {"Size", size, sizeof size, 0}};

static int on_record(void *ctx)
{
  struct seen *s = ctx;
  if (s->n < 4)
    snprintf(s->keys[s->n], sizeof s->keys[0], "%s|%s|%d", key, size, rec[0].found);
  return ++s->n == s->stop_after;
}

static int parse(const char *doc, struct s3xml_read *r)
{
  return s3xml_parse(doc, strlen(doc), r);
}

int main(void)
{
  char code[64], msg[200], out[64];
  const char *err = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                    "<Message>a &amp; b &lt;c&gt; &quot;&apos; &#233;&#x263A;</Message><Key>x</Key></Error>";
  CHECK(s3xml_error(err, strlen(err), code, sizeof code, msg, sizeof msg));
  CHECK(!strcmp(code, "NoSuchKey") && !strcmp(msg, "a & b <c> \"' \xc3\xa9\xe2\x98\xba"));
  /* S3 may answer 200 with an error; a result is not one */
  const char *ok = "<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                   "<ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag></CompleteMultipartUploadResult>";
  CHECK(!s3xml_error(ok, strlen(ok), code, sizeof code, msg, sizeof msg) && !code[0] && !msg[0]);
  CHECK(s3xml_text(ok, strlen(ok), "ETag", out, sizeof out) && !strcmp(out, "\"3858f62230ac3c915f300c664312c11f-9\""));
  CHECK(!s3xml_text(ok, strlen(ok), "UploadId", out, sizeof out) && !out[0]);
  /* not XML, empty, cut short: what came before the break is kept */
  const char *html = "<html><body>502 Bad Gateway<br></body></html>";
  CHECK(!s3xml_error(html, strlen(html), code, sizeof code, msg, sizeof msg) && !code[0]);
  CHECK(!s3xml_error(NULL, 0, code, sizeof code, msg, sizeof msg) && !code[0]);
  const char *cut = "<Error><Code>SlowDown</Code><Message>Reduce your";
  CHECK(s3xml_error(cut, strlen(cut), code, sizeof code, msg, sizeof msg) && !strcmp(code, "SlowDown"));
  /* a text longer than its buffer is cut before a character, never inside one */
  const char *utf = "<R><UploadId>a\xc3\xa9\xe2\x82\xac</UploadId></R>";
  char small[5];
  CHECK(s3xml_text(utf, strlen(utf), "UploadId", small, sizeof small) && !strcmp(small, "a\xc3\xa9"));
  /* no DOCTYPE, so no entity declarations */
  const char *dt = "<!DOCTYPE Error [<!ENTITY a \"aaaa\">]><Error><Code>&a;</Code></Error>";
  struct s3xml_field f = {"Code", code, sizeof code, 0};
  struct s3xml_read r = {.top = &f, .ntop = 1};
  CHECK(parse(dt, &r) == -1 && !f.found && !code[0]);
  /* a listing: records, and the fields outside them */
  const char *list = "<?xml version=\"1.0\"?><ListBucketResult><Name>b</Name><IsTruncated>true</IsTruncated>"
                     "<Contents><Key>p/ab/cd/1</Key><Size>12</Size></Contents>"
                     "<Contents><Key>p/&lt;2&gt;</Key><Size>7</Size><Owner><ID>x</ID></Owner></Contents>"
                     "<Contents><Key></Key></Contents>"
                     "<NextContinuationToken>t+/=&amp;</NextContinuationToken><Key>top</Key></ListBucketResult>";
  char trunc[16], token[64], topkey[16];
  struct s3xml_field top[3] = {{"IsTruncated", trunc, sizeof trunc, 0}, {"NextContinuationToken", token, sizeof token, 0},
                               {"Key", topkey, sizeof topkey, 0}};
  struct seen s = {.stop_after = 0};
  r = (struct s3xml_read){.top = top, .ntop = 3, .record = "Contents", .rec = rec, .nrec = 2, .on_record = on_record,
                          .ctx = &s};
  CHECK(parse(list, &r) == 0 && !strcmp(r.root, "ListBucketResult"));
  CHECK(s.n == 3 && !strcmp(s.keys[0], "p/ab/cd/1|12|1") && !strcmp(s.keys[1], "p/<2>|7|1") && !strcmp(s.keys[2], "||1"));
  CHECK(!strcmp(trunc, "true") && !strcmp(token, "t+/=&") && !strcmp(topkey, "top"));
  /* on_record stops the reading */
  s = (struct seen){.stop_after = 1};
  CHECK(parse(list, &r) == 0 && s.n == 1 && !strcmp(trunc, "true") && !token[0]);
  TEST_MAIN_END();
}

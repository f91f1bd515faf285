/* Plain text: counts (lines, words, characters), the encoding, and the text itself as
 * an artifact (valid UTF-8, invalid bytes replaced, at most TEXT_MAX bytes) for search. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "convert/converter.h"
#include "util/util.h"

#define TEXT_MAX (16u << 20)

static const char *const suffixes[] = {".txt", ".md", ".csv", ".tsv", ".json", ".xml", ".log", ".ini", ".yaml",
                                       ".yml", ".c",  ".h",   ".py",  ".r",    ".tex", ".rst", NULL};

static int sniff(const unsigned char *head, size_t len, const struct cb_convert_input *in)
{
  if (in->mime &&
      (!strncmp(in->mime, "text/", 5) || !strcmp(in->mime, "application/json") || !strcmp(in->mime, "application/xml")))
    return 50;
  if (len && !memchr(head, 0, len) && cb_utf8_valid((const char *)head, len))
    return 30;
  return 0;
}

struct counts {
  uint64_t lines, words, chars, bytes, written, invalid;
};

/* Reads the file once: counts, and writes it as valid UTF-8 (at most limit bytes) to
 * outpath (unless NULL: counts only). */
static cb_err scan(const struct cb_convert_input *in, const char *outpath, uint64_t limit, struct counts *ct,
                   cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  const uint64_t TEXT_LIMIT = limit;
  FILE *f = fopen(in->path, "rb");
  if (!f) {
    cb_errf(eb, "cannot open the file");
    return CB_EIO;
  }
  FILE *out = outpath ? fopen(outpath, "wb") : NULL;
  if (outpath && !out) {
    fclose(f);
    cb_errf(eb, "cannot write the text artifact");
    return CB_EIO;
  }
  unsigned char buf[65536 + 4];
  size_t carry = 0, n;
  uint64_t lines = 0, words = 0, chars = 0, bytes = 0, written = 0, invalid = 0;
  int in_word = 0, last_nl = 1;
  while ((n = fread(buf + carry, 1, sizeof buf - 4 - carry, f)) > 0 || carry) {
    size_t avail = carry + n, i = 0;
    int eof = n == 0;
    while (i < avail) {
      int k = cb_utf8_next((const char *)buf + i, avail - i, NULL);
      if (k < 0 && !eof)
        break; /* finish the sequence with the next read */
      unsigned char c = buf[i];
      if (k <= 0) {
        invalid++;
        k = 1;
        if (written + 3 <= TEXT_LIMIT) {
          if (out)
            fwrite("\xef\xbf\xbd", 1, 3, out);
          written += 3;
        }
      } else if (written + (size_t)k <= TEXT_LIMIT) {
        if (out)
          fwrite(buf + i, 1, (size_t)k, out);
        written += (size_t)k;
      }
      chars++;
      if (c == '\n')
        lines++;
      last_nl = c == '\n';
      int space = c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
      if (!space && !in_word)
        words++;
      in_word = !space;
      i += (size_t)k;
    }
    bytes += i;
    carry = avail - i;
    memmove(buf, buf + i, carry);
    if (in->size)
      progress(pctx, (double)bytes / (double)in->size);
    if (eof)
      break;
  }
  int bad = ferror(f);
  fclose(f);
  if ((out && fclose(out)) || bad) {
    cb_errf(eb, "reading the text failed");
    return CB_EIO;
  }
  if (bytes && !last_nl)
    lines++;
  *ct = (struct counts){lines, words, chars, bytes, written, invalid};
  return CB_OK;
}

/* Whether the file at path (size bytes, at most SAME_MAX) is valid UTF-8 throughout: its
 * text artifact is then its own bytes, and no copy is written. */
#define SAME_MAX (1u << 20)
static int all_utf8(const char *path, uint64_t size)
{
  if (!size || size > SAME_MAX)
    return 0;
  char *buf = malloc((size_t)size + 1);
  FILE *f = buf ? fopen(path, "rb") : NULL;
  int ok = f && fread(buf, 1, (size_t)size + 1, f) == (size_t)size && cb_utf8_valid(buf, (size_t)size);
  if (f)
    fclose(f);
  free(buf);
  return ok;
}

static cb_err extract(const struct cb_convert_input *in, cJSON *result, cb_progress_fn progress, void *pctx,
                      struct cb_errbuf *eb)
{
  char outpath[4096];
  struct counts ct;
  snprintf(outpath, sizeof outpath, "%s/text.txt", in->workdir);
  int same = all_utf8(in->path, in->size);
  cb_err e = same ? scan(in, NULL, TEXT_MAX, &ct, progress, pctx, eb) : CB_OK;
  if (!e && (!same || ct.invalid || ct.written != ct.bytes)) { /* a copy to write (its folder first) */
    same = 0;
    e = mkdir(in->workdir, 0700) && errno != EEXIST ? CB_EIO : scan(in, outpath, TEXT_MAX, &ct, progress, pctx, eb);
    if (e == CB_EIO && !eb->msg[0])
      cb_errf(eb, "cannot make the work folder: %s", strerror(errno));
  }
  if (e)
    return e;
  uint64_t lines = ct.lines, words = ct.words, chars = ct.chars, bytes = ct.bytes, written = ct.written,
           invalid = ct.invalid;
  cJSON_AddStringToObject(result, "kind", "text");
  result_prop_num(result, "line_count", (double)lines, NULL, NULL);
  result_prop_num(result, "word_count", (double)words, NULL, NULL);
  result_prop_num(result, "character_count", (double)chars, NULL, NULL);
  result_prop_text(result, "encoding", invalid ? "unknown (not valid UTF-8)" : "UTF-8", NULL, NULL);
  if (written < bytes + invalid * 2 && written >= TEXT_MAX)
    result_prop_text(result, "text_truncated", "true", NULL, NULL);
  if (same)
    result_artifact_input(result, "text", "text/plain; charset=utf-8");
  else
    result_artifact(result, "text", "text/plain; charset=utf-8", outpath);
  return CB_OK;
}

/* txt: the text as valid UTF-8, whole (invalid bytes become U+FFFD). */
static cb_err convert(const struct cb_convert_input *in, const char *to, const char *outpath, cJSON *result,
                      cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  (void)to;
  struct counts ct;
  cb_err e = scan(in, outpath, UINT64_MAX, &ct, progress, pctx, eb);
  if (!e)
    cJSON_AddStringToObject(result, "media_type", "text/plain; charset=utf-8");
  return e;
}

static const char *const targets[] = {"txt", NULL};
static const struct converter_desc desc = {"text", "text", suffixes, sniff, NULL};
static const struct converter_ops ops = {extract, convert, targets, NULL};
const struct converter conv_text = {&desc, &ops};

/* ---- the generic converter: for what no other converter claims ---- */

static cb_err generic_extract(const struct cb_convert_input *in, cJSON *result, cb_progress_fn progress, void *pctx,
                              struct cb_errbuf *eb)
{
  (void)eb;
  if (in->mime && *in->mime)
    result_prop_text(result, "detected_media_type", in->mime, NULL, NULL);
  if (in->magic && *in->magic)
    result_prop_text(result, "detected_format", in->magic, NULL, NULL);
  progress(pctx, 1.0);
  return CB_OK;
}

static const struct converter_desc generic_desc = {"generic", NULL, NULL, NULL, NULL};
static const struct converter_ops generic_ops = {generic_extract, NULL, NULL, NULL};
const struct converter conv_generic = {&generic_desc, &generic_ops};

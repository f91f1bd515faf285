/* Archives through libarchive: zip, tar (ustar, pax, GNU) plain or compressed with gzip,
 * bzip2, xz, lzma or zstd, and a lone compressed file (data.csv.gz) as an archive of one
 * member. The ingest lists them (nothing is ever extracted there): counts, the total
 * uncompressed size, the format and compression as properties, the listing as an
 * artifact, the member names as the text for search. The `unpack` op writes the members
 * into the work folder under limits (archive_unpack, unpack.h).
 *
 * Only in-process decompressors are enabled (no filter that would run an external
 * program). Entry names are read as UTF-8 (libarchive converts where the archive says how;
 * otherwise bytes that are not UTF-8 are read as ISO-8859-1). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "convert/archive/unpack.h"
#include "convert/converter.h"
#include "util/util.h"

#define LIST_MAX_ENTRIES 100000
#define TEXT_MAX (16u << 20)
#define PATH_CAP 4096
#define BLOCK 4096 /* small reads keep the compressed bytes an entry used exact within 4 KiB */
/* a compressed stream that expands more than this, past LIST_RATIO_FROM, is refused even
 * for listing (a decompression bomb would otherwise cost minutes of CPU) */
#define LIST_RATIO 1000.0
#define LIST_RATIO_FROM (64ull << 20)

static const char *const suffixes[] = {".zip", ".tar", ".tgz", ".tbz",  ".tbz2", ".txz", ".tzst",
                                       ".gz",  ".bz2", ".xz",  ".lzma", ".zst",  NULL};
/* suffixes a lone compressed file loses when it becomes a member */
static const char *const compressed_suffixes[] = {".gz", ".bz2", ".xz", ".lzma", ".zst", ".z", NULL};

static void filters(struct archive *a)
{
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_bzip2(a);
  archive_read_support_filter_xz(a);
  archive_read_support_filter_lzma(a);
  archive_read_support_filter_zstd(a);
}

static int compressed_magic(const unsigned char *h, size_t len)
{
  return (len >= 2 && h[0] == 0x1f && h[1] == 0x8b) || (len >= 3 && !memcmp(h, "BZh", 3)) ||
         (len >= 6 && !memcmp(h,
                              "\xfd"
                              "7zXZ\0",
                              6)) ||
         (len >= 4 && !memcmp(h, "\x28\xb5\x2f\xfd", 4)) || (len >= 3 && h[0] == 0x5d && h[1] == 0 && h[2] == 0);
}

/* Is there a tar header at the start of this compressed head? */
static int tar_inside(const unsigned char *head, size_t len)
{
  struct archive *a = archive_read_new();
  if (!a)
    return 0;
  filters(a);
  archive_read_support_format_tar(a);
  struct archive_entry *e;
  int ok = archive_read_open_memory(a, head, len) == ARCHIVE_OK && archive_read_next_header(a, &e) >= ARCHIVE_WARN;
  archive_read_free(a);
  return ok;
}

static int sniff(const unsigned char *head, size_t len, const struct cb_convert_input *in)
{
  (void)in;
  if (len >= 4 && (!memcmp(head, "PK\3\4", 4) || !memcmp(head, "PK\5\6", 4)))
    return 40; /* office files are zips too: their converter bids higher */
  if (len >= 262 && !memcmp(head + 257, "ustar", 5))
    return 60;
  if (compressed_magic(head, len))
    return tar_inside(head, len) ? 60 : 35;
  return 0;
}

/* ------------------------------------------------------------------ opening */

struct arc {
  struct archive *a;
  int raw; /* a lone compressed file */
};

static void arc_close(struct arc *r)
{
  if (r->a)
    archive_read_free(r->a);
  r->a = NULL;
}

static cb_err arc_open_as(struct arc *r, const char *path, int raw, struct cb_errbuf *eb)
{
  r->raw = raw;
  r->a = archive_read_new();
  if (!r->a)
    return CB_ENOMEM;
  filters(r->a);
  if (raw) {
    archive_read_support_format_raw(r->a);
  } else {
    archive_read_support_format_zip(r->a);
    archive_read_support_format_tar(r->a);
  }
  if (archive_read_open_filename(r->a, path, BLOCK) != ARCHIVE_OK) {
    cb_errf(eb, "cannot read the archive: %s", archive_error_string(r->a));
    arc_close(r);
    return CB_EINVAL;
  }
  return CB_OK;
}

/* Opens the archive and reads its first header into *entry (NULL when it has none):
 * 1, 0 when empty, -1 on an error (eb). A compressed stream that holds no archive is
 * opened again as one member. */
static int arc_open(struct arc *r, const char *path, struct archive_entry **entry, struct cb_errbuf *eb)
{
  static int locale_set;
  if (!locale_set) { /* names convert to UTF-8 only in a UTF-8 locale */
    if (!setlocale(LC_CTYPE, "C.UTF-8"))
      setlocale(LC_CTYPE, "C.utf8");
    locale_set = 1;
  }
  memset(r, 0, sizeof *r);
  *entry = NULL;
  struct cb_errbuf first = {""};
  if (!arc_open_as(r, path, 0, &first)) {
    int rc = archive_read_next_header(r->a, entry);
    if (rc == ARCHIVE_EOF)
      return 0;
    if (rc >= ARCHIVE_WARN)
      return 1;
    cb_errf(&first, "%s", archive_error_string(r->a));
    arc_close(r);
  }
  /* no zip or tar: a compressed stream is one member */
  if (!arc_open_as(r, path, 1, eb)) {
    if (archive_filter_count(r->a) > 1 && archive_filter_code(r->a, 0) != ARCHIVE_FILTER_NONE &&
        archive_read_next_header(r->a, entry) >= ARCHIVE_WARN)
      return 1;
    arc_close(r);
  }
  cb_errf(eb, "not an archive libarchive can read, or damaged: %s", first.msg);
  return -1;
}

/* Says how far through its input (size bytes) r has read, then reads the next header into
 * *entry: 1, 0 at the end, -1 when the archive is damaged (eb counts the entries read so
 * far; tail ends it). */
static int arc_next(struct arc *r, uint64_t size, cb_progress_fn progress, void *pctx, struct archive_entry **entry,
                    uint64_t entries, const char *tail, struct cb_errbuf *eb)
{
  if (size)
    progress(pctx, (double)archive_filter_bytes(r->a, -1) / (double)size);
  int rc = archive_read_next_header(r->a, entry);
  if (rc == ARCHIVE_EOF)
    return 0;
  if (rc < ARCHIVE_WARN) {
    cb_errf(eb, "the archive is damaged or truncated (after %llu entries): %s%s", (unsigned long long)entries,
            archive_error_string(r->a), tail);
    return -1;
  }
  return 1;
}

/* ------------------------------------------------------------------ names */

/* Appends s as valid UTF-8 (a name that is not UTF-8 read as ISO-8859-1); control
 * characters become '?' when printable. */
static void utf8_name(struct cb_buf *b, const char *s, int printable)
{
  size_t n = strlen(s), from = b->len;
  if (cb_utf8_valid(s, n))
    cb_buf_append(b, s, n);
  else
    cb_buf_latin1(b, s, n);
  /* control characters are ASCII bytes, which UTF-8's longer sequences never hold */
  for (size_t i = from; printable && i < b->len; i++)
    if ((unsigned char)b->data[i] < 0x20 || b->data[i] == 0x7f)
      b->data[i] = '?';
}

/* The entry's name as UTF-8 (malloc'd). For a lone compressed file, the archive's own
 * name without its compression suffix. */
static char *entry_name(const struct arc *r, struct archive_entry *e, const char *archive_name, int printable)
{
  struct cb_buf b = {0};
  if (r->raw) {
    const char *base = strrchr(archive_name, '/');
    base = base ? base + 1 : archive_name;
    size_t n = strlen(base);
    for (const char *const *s = compressed_suffixes; *s; s++) {
      size_t k = strlen(*s);
      if (n > k && !strcasecmp(base + n - k, *s)) {
        n -= k;
        break;
      }
    }
    char *copy = strndup(base, n);
    utf8_name(&b, copy ? copy : "", printable);
    free(copy);
    if (!b.len)
      cb_buf_puts(&b, "data");
    return cb_buf_steal(&b);
  }
  const char *name = archive_entry_pathname_utf8(e);
  if (!name)
    name = archive_entry_pathname(e);
  utf8_name(&b, name ? name : "", printable);
  return b.data ? cb_buf_steal(&b) : strdup("");
}

/* Normalizes a member's path: '\' is a separator too, "." and empty components go.
 * NULL when it is fine (out gets it, possibly "" for the top), else why not. */
static const char *clean_path(const char *name, char *out, size_t cap)
{
  out[0] = '\0';
  if (name[0] == '/' || name[0] == '\\')
    return "an absolute path";
  if (((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')) && name[1] == ':' &&
      (name[2] == '/' || name[2] == '\\'))
    return "an absolute (drive) path";
  size_t o = 0;
  const char *p = name;
  while (*p) {
    size_t n = strcspn(p, "/\\");
    char comp[300];
    if (n >= sizeof comp)
      return "a path component longer than 255 bytes";
    memcpy(comp, p, n);
    comp[n] = '\0';
    p += n;
    if (*p)
      p++;
    if (!n || !strcmp(comp, "."))
      continue;
    if (!strcmp(comp, ".."))
      return "a '..' component";
    if (cb_name_invalid(comp))
      return cb_name_invalid(comp);
    if (o + n + 2 > cap)
      return "a path longer than 4096 bytes";
    if (o)
      out[o++] = '/';
    memcpy(out + o, comp, n);
    o += n;
    out[o] = '\0';
  }
  return NULL;
}

static const char *entry_type(struct archive_entry *e)
{
  if (archive_entry_hardlink(e))
    return "hardlink";
  switch (archive_entry_filetype(e)) {
  case AE_IFREG: return "file";
  case AE_IFDIR: return "dir";
  case AE_IFLNK: return "symlink";
  default: return "other";
  }
}

/* "ZIP 2.0 (deflation)" -> "deflation"; NULL when there is no method in the name. */
static void zip_method(const char *fmt, char *out, size_t cap)
{
  const char *o = fmt ? strchr(fmt, '(') : NULL, *c = o ? strchr(o, ')') : NULL;
  if (o && c)
    snprintf(out, cap, "%.*s", (int)(c - o - 1), o + 1);
  else
    out[0] = '\0';
}

static void add_word(char *list, size_t cap, const char *w)
{
  if (!*w)
    return;
  size_t n = strlen(w);
  for (const char *p = list; (p = strstr(p, w)); p += n)
    if ((p == list || p[-1] == ',') && (p[n] == ',' || !p[n]))
      return;
  snprintf(list + strlen(list), cap - strlen(list), "%s%s", *list ? "," : "", w);
}

/* A compressed stream expanding past all reason (see LIST_RATIO). */
static int bomb(struct archive *a)
{
  if (archive_filter_count(a) < 2)
    return 0;
  double out = (double)archive_filter_bytes(a, 0), in = (double)archive_filter_bytes(a, -1);
  return out > (double)LIST_RATIO_FROM && out > LIST_RATIO * (in > 1 ? in : 1);
}

/* ------------------------------------------------------------------ extract */

/* Past an entry's data. In a compressed stream that means decompressing it: block by
 * block, so that a bomb is noticed while it expands. */
static int skip_data(struct archive *a)
{
  if (archive_filter_count(a) < 2)
    return archive_read_data_skip(a);
  const void *p;
  size_t n;
  la_int64_t off;
  int rc;
  while ((rc = archive_read_data_block(a, &p, &n, &off)) == ARCHIVE_OK || rc == ARCHIVE_WARN)
    if (bomb(a))
      return ARCHIVE_OK; /* the caller looks at bomb() next */
  return rc == ARCHIVE_EOF ? ARCHIVE_OK : rc;
}

/* The decompressed size of a lone compressed file's one member: 0, or -1 (eb). */
static int raw_size(struct archive *a, uint64_t *size, struct cb_errbuf *eb)
{
  char buf[65536];
  la_ssize_t n;
  *size = 0;
  while ((n = archive_read_data(a, buf, sizeof buf)) > 0) {
    *size += (uint64_t)n;
    if (bomb(a)) {
      cb_errf(eb, "the data expands more than 1000:1 (a decompression bomb?)");
      return -1;
    }
  }
  if (n < 0) {
    cb_errf(eb, "the compressed data is damaged or truncated: %s", archive_error_string(a));
    return -1;
  }
  return 0;
}

static cb_err extract(const struct cb_convert_input *in, cJSON *result, cb_progress_fn progress, void *pctx,
                      struct cb_errbuf *eb)
{
  struct arc r;
  struct archive_entry *e;
  char listpath[4200], textpath[4200];
  snprintf(listpath, sizeof listpath, "%s/listing.txt", in->workdir);
  snprintf(textpath, sizeof textpath, "%s/text.txt", in->workdir);
  int rc = arc_open(&r, in->path, &e, eb);
  if (rc < 0)
    return CB_EINVAL;
  FILE *list = fopen(listpath, "wb"), *text = fopen(textpath, "wb");
  cb_err res = CB_OK;
  struct cb_buf line = {0};
  uint64_t entries = 0, files = 0, dirs = 0, links = 0, others = 0, encrypted = 0, total = 0, unknown = 0;
  uint64_t text_written = 0;
  char format[128] = "", methods[128] = "";
  if (!list || !text) {
    cb_errf(eb, "cannot write the listing");
    res = CB_EIO;
    goto out;
  }
  while (rc == 1) {
    if (++entries > LIST_MAX_ENTRIES) {
      cb_errf(eb, "the archive has more than %d entries", LIST_MAX_ENTRIES);
      res = CB_EINVAL;
      goto out;
    }
    const char *fmt = archive_format_name(r.a);
    if (!format[0]) {
      snprintf(format, sizeof format, "%s", fmt ? fmt : "unknown");
      if (!strncmp(format, "ZIP", 3))
        snprintf(format, sizeof format, "ZIP");
    }
    if (fmt && !strncmp(fmt, "ZIP", 3)) {
      char m[64];
      zip_method(fmt, m, sizeof m);
      add_word(methods, sizeof methods, m);
    }
    const char *type = entry_type(e);
    char size[32] = "-", mtime[32] = "-";
    int known = archive_entry_size_is_set(e) && !r.raw;
    uint64_t sz = known ? (uint64_t)archive_entry_size(e) : 0;
    if (r.raw) { /* the one member's size: only by decompressing it */
      if (raw_size(r.a, &sz, eb)) {
        res = CB_EINVAL;
        goto out;
      }
      known = 1;
    }
    if (known)
      snprintf(size, sizeof size, "%llu", (unsigned long long)sz);
    if (archive_entry_mtime_is_set(e)) {
      time_t t = archive_entry_mtime(e);
      struct tm tm;
      if (gmtime_r(&t, &tm))
        strftime(mtime, sizeof mtime, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    if (!strcmp(type, "file")) {
      files++;
      total += sz;
      unknown += !known;
    } else if (!strcmp(type, "dir")) {
      dirs++;
    } else if (!strcmp(type, "other")) {
      others++;
    } else {
      links++;
    }
    int enc = archive_entry_is_encrypted(e) > 0;
    encrypted += (uint64_t)enc;
    char *name = entry_name(&r, e, in->name, 1);
    cb_buf_reset(&line);
    cb_buf_printf(&line, "%s%s\t%s\t%s\t%s", type, enc ? ",encrypted" : "", size, mtime, name ? name : "");
    const char *target = archive_entry_symlink_utf8(e);
    if (!target)
      target = archive_entry_symlink(e);
    if (!target)
      target = archive_entry_hardlink_utf8(e);
    if (!target)
      target = archive_entry_hardlink(e);
    if (target) {
      cb_buf_puts(&line, " -> ");
      utf8_name(&line, target, 1);
    }
    cb_buf_puts(&line, "\n");
    fwrite(line.data, 1, line.len, list);
    size_t nl = name ? strlen(name) : 0;
    if (nl && text_written + nl + 1 <= TEXT_MAX) {
      fwrite(name, 1, nl, text);
      fputc('\n', text);
      text_written += nl + 1;
    }
    free(name);
    if (!r.raw && skip_data(r.a) < ARCHIVE_WARN) {
      cb_errf(eb, "the archive is damaged or truncated (after %llu entries): %s", (unsigned long long)entries,
              archive_error_string(r.a));
      res = CB_EINVAL;
      goto out;
    }
    if (bomb(r.a)) {
      cb_errf(eb, "the archive expands more than 1000:1 (a decompression bomb?)");
      res = CB_EINVAL;
      goto out;
    }
    rc = arc_next(&r, in->size, progress, pctx, &e, entries, "", eb);
    if (rc < 0) {
      res = CB_EINVAL;
      goto out;
    }
  }
  cJSON_AddStringToObject(result, "kind", "archive");
  result_prop_num(result, "entry_count", (double)entries, NULL, NULL);
  result_prop_num(result, "file_count", (double)files, NULL, NULL);
  result_prop_num(result, "directory_count", (double)dirs, NULL, NULL);
  if (links)
    result_prop_num(result, "link_count", (double)links, NULL, NULL);
  if (others)
    result_prop_num(result, "special_count", (double)others, NULL, NULL);
  if (encrypted)
    result_prop_num(result, "encrypted_count", (double)encrypted, NULL, NULL);
  result_prop_num(result, "total_uncompressed_size", (double)total, "B", NULL);
  if (unknown)
    result_prop_num(result, "unknown_size_count", (double)unknown, NULL, NULL);
  result_prop_text(result, "format", r.raw ? "raw" : format[0] ? format : "empty", NULL, NULL);
  const char *filter = archive_filter_name(r.a, 0);
  result_prop_text(result, "compression",
                   methods[0]                         ? methods
                   : filter && strcmp(filter, "none") ? filter
                                                      : "none",
                   NULL, NULL);
  progress(pctx, 1.0);
out:
  cb_buf_free(&line);
  int bad = list && fclose(list);
  if (text && fclose(text))
    bad = 1;
  if (bad && !res) {
    cb_errf(eb, "cannot write the listing");
    res = CB_EIO;
  }
  if (!res) {
    result_artifact(result, "listing", "text/plain; charset=utf-8", listpath);
    result_artifact(result, "text", "text/plain; charset=utf-8", textpath);
  }
  arc_close(&r);
  return res;
}

/* ------------------------------------------------------------------ unpack */

/* Paths already met: path -> the manifest item (open addressing on a string hash). */
struct pathmap {
  char **keys;
  cJSON **items;
  size_t cap, n;
};

static uint64_t str_hash(const char *s)
{
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h;
}

static cJSON **pm_slot(struct pathmap *m, const char *key, int add)
{
  if (add && (m->n + 1) * 2 > m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 256;
    char **keys = calloc(cap, sizeof *keys);
    cJSON **items = calloc(cap, sizeof *items);
    if (!keys || !items) {
      free(keys);
      free(items);
      return NULL;
    }
    for (size_t i = 0; i < m->cap; i++)
      if (m->keys[i])
        for (size_t j = str_hash(m->keys[i]) & (cap - 1);; j = (j + 1) & (cap - 1))
          if (!keys[j]) {
            keys[j] = m->keys[i];
            items[j] = m->items[i];
            break;
          }
    free(m->keys);
    free(m->items);
    m->keys = keys;
    m->items = items;
    m->cap = cap;
  }
  if (!m->cap)
    return NULL;
  for (size_t j = str_hash(key) & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
    if (!m->keys[j]) {
      if (!add)
        return NULL;
      m->keys[j] = strdup(key);
      if (!m->keys[j])
        return NULL;
      m->n++;
      return &m->items[j];
    }
    if (!strcmp(m->keys[j], key))
      return &m->items[j];
  }
}

static void pm_free(struct pathmap *m)
{
  for (size_t i = 0; i < m->cap; i++)
    free(m->keys[i]);
  free(m->keys);
  free(m->items);
  memset(m, 0, sizeof *m);
}

cb_err archive_unpack(const struct cb_convert_input *in, const struct unpack_limits *lim, cJSON *result,
                      cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  struct arc r;
  struct archive_entry *e;
  int rc = arc_open(&r, in->path, &e, eb);
  if (rc < 0)
    return CB_EINVAL;
  cb_err res = CB_OK;
  struct pathmap seen = {0}, seen_dirs = {0};
  char *buf = malloc(65536), *name = NULL;
  char dest[4300], clean[PATH_CAP];
  snprintf(dest, sizeof dest, "%s/members", in->workdir);
  int fd = buf ? open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
  uint64_t at = 0; /* where the next member goes in it */
  if (fd < 0) {
    cb_errf(eb, "cannot create the members file: %s", buf ? strerror(errno) : "out of memory");
    res = CB_EIO;
    goto out;
  }
  cJSON_AddStringToObject(result, "members", "members");
  cJSON *files = cJSON_AddArrayToObject(result, "files"), *dirs = cJSON_AddArrayToObject(result, "dirs");
  cJSON *skipped = cJSON_AddArrayToObject(result, "skipped");
  uint64_t entries = 0, total = 0;
  while (rc == 1) {
    if (++entries > lim->max_entries) {
      cb_errf(eb, "the archive has more than %llu entries (the limit); nothing was unpacked",
              (unsigned long long)lim->max_entries);
      res = CB_EINVAL;
      goto out;
    }
    free(name);
    name = entry_name(&r, e, in->name, 0);
    const char *why = name ? clean_path(name, clean, sizeof clean) : "out of memory";
    if (why) {
      struct cb_buf shown = {0};
      utf8_name(&shown, name ? name : "", 1);
      cb_errf(eb, "entry '%.300s' is refused (%s); nothing was unpacked", shown.data ? shown.data : "", why);
      cb_buf_free(&shown);
      res = CB_EINVAL;
      goto out;
    }
    const char *type = entry_type(e);
    if (!strcmp(type, "dir")) {
      cJSON **slot = clean[0] ? pm_slot(&seen_dirs, clean, 1) : NULL;
      if (slot && !*slot) {
        *slot = cJSON_CreateString(clean);
        cJSON_AddItemToArray(dirs, *slot);
      }
    } else if (strcmp(type, "file")) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "path", clean);
      cJSON_AddStringToObject(o, "reason",
                              !strcmp(type, "symlink")    ? "symbolic link"
                              : !strcmp(type, "hardlink") ? "hard link"
                                                          : "device or special file");
      cJSON_AddItemToArray(skipped, o);
    } else {
      if (archive_entry_is_encrypted(e) > 0) {
        cb_errf(eb, "entry '%.300s' is encrypted and cannot be unpacked; nothing was unpacked", clean);
        res = CB_EINVAL;
        goto out;
      }
      if (!clean[0]) {
        cb_errf(eb, "a file entry has no name; nothing was unpacked");
        res = CB_EINVAL;
        goto out;
      }
      cJSON **slot = pm_slot(&seen, clean, 1);
      if (!slot) {
        res = CB_ENOMEM;
        cb_errf(eb, "out of memory");
        goto out;
      }
      if (!*slot) { /* first time: a new member */
        *slot = cJSON_CreateObject();
        cJSON_AddStringToObject(*slot, "path", clean);
        cJSON_AddNumberToObject(*slot, "offset", 0);
        cJSON_AddNumberToObject(*slot, "size", 0);
        cJSON_AddItemToArray(files, *slot);
      }
      /* a path met again keeps its last content: its bytes follow the others' too */
      cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(*slot, "offset"), (double)at);
      if (archive_entry_size_is_set(e) && !r.raw && lim->max_member &&
          (uint64_t)archive_entry_size(e) > lim->max_member) {
        cb_errf(eb, "entry '%.300s' is larger than the largest accepted file (%llu bytes); nothing was unpacked", clean,
                (unsigned long long)lim->max_member);
        res = CB_EINVAL;
        goto out;
      }
      if (archive_entry_size_is_set(e) && !r.raw && total + (uint64_t)archive_entry_size(e) > lim->max_total) {
        cb_errf(eb, "the archive unpacks to more than %llu bytes (the limit); nothing was unpacked",
                (unsigned long long)lim->max_total);
        res = CB_EINVAL;
        goto out;
      }
      int64_t in0 = archive_filter_bytes(r.a, -1);
      uint64_t outn = 0;
      la_ssize_t n;
      while ((n = archive_read_data(r.a, buf, 65536)) > 0) {
        outn += (uint64_t)n;
        total += (uint64_t)n;
        double used = (double)(archive_filter_bytes(r.a, -1) - in0);
        if (total > lim->max_total)
          cb_errf(eb, "the archive unpacks to more than %llu bytes (the limit); nothing was unpacked",
                  (unsigned long long)lim->max_total);
        else if (lim->max_member && outn > lim->max_member)
          cb_errf(eb, "entry '%.300s' is larger than the largest accepted file (%llu bytes); nothing was unpacked",
                  clean, (unsigned long long)lim->max_member);
        else if (outn > lim->ratio_from && (double)outn > lim->max_ratio * (used > 1 ? used : 1))
          cb_errf(eb, "entry '%.300s' expands more than %.0f:1 (a zip bomb?); nothing was unpacked", clean,
                  lim->max_ratio);
        else if (total > lim->ratio_from && (double)total > lim->max_ratio * (double)(in->size ? in->size : 1))
          cb_errf(eb, "the archive expands more than %.0f:1 (a zip bomb?); nothing was unpacked", lim->max_ratio);
        else if (cb_write_all(fd, buf, (size_t)n))
          cb_errf(eb, "cannot write entry '%.300s': %s", clean, strerror(errno));
        else
          continue;
        res = CB_EINVAL;
        goto out;
      }
      at += outn;
      if (n < 0) {
        cb_errf(eb, "entry '%.300s' is damaged or truncated: %s; nothing was unpacked", clean,
                archive_error_string(r.a));
        res = CB_EINVAL;
        goto out;
      }
      cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(*slot, "size"), (double)outn);
    }
    rc = arc_next(&r, in->size, progress, pctx, &e, entries, "; nothing was unpacked", eb);
    if (rc < 0) {
      res = CB_EINVAL;
      goto out;
    }
  }
  cJSON_AddNumberToObject(result, "entries", (double)entries);
  cJSON_AddNumberToObject(result, "total_size", (double)total);
  progress(pctx, 1.0);
out:
  if (fd >= 0 && close(fd) && !res) {
    cb_errf(eb, "cannot write the members file: %s", strerror(errno));
    res = CB_EIO;
  }
  free(name);
  free(buf);
  pm_free(&seen);
  pm_free(&seen_dirs);
  arc_close(&r);
  return res;
}

static const struct converter_desc desc = {"archive", "archive", suffixes, sniff, NULL};
static const struct converter_ops ops = {extract, NULL, NULL, NULL};
const struct converter conv_archive = {&desc, &ops};

/* The converter entry points as the worker process calls them (convert/worker.c): the
 * input written to a file, libmagic's type and description of its head, every
 * converter's sniff (converter_find), then one family's extract on that path with a
 * private work folder, one of its conversions and a later page's preview (when it draws
 * pages). The first input byte picks the file name's suffix (among the family's), the
 * conversion target and the page; the rest is the file.
 * Include after defining CONVERTER (a struct converter). libmagic is loaded once. */
#ifndef CB_FUZZ_CONVERT_H
#define CB_FUZZ_CONVERT_H
#include <magic.h>

#include "convert/converter.h"
#include "fuzz.h"

static magic_t mime_cookie, desc_cookie;
static char in_path[512], work[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc, (void)argv;
  mime_cookie = magic_open(MAGIC_MIME_TYPE);
  desc_cookie = magic_open(MAGIC_NONE);
  if (!mime_cookie || !desc_cookie || magic_load(mime_cookie, NULL) || magic_load(desc_cookie, NULL)) {
    fprintf(stderr, "carboy fuzz: cannot load the magic database\n");
    abort();
  }
  snprintf(in_path, sizeof in_path, "%s/input", fuzz_scratch());
  snprintf(work, sizeof work, "%s/work", fuzz_scratch());
  return 0;
}

static void progress(void *ctx, double f)
{
  (void)ctx;
  if (!(f >= -1e-9 && f <= 1 + 1e-9))
    abort(); /* progress is a fraction */
}

static size_t count(const char *const *list)
{
  size_t n = 0;
  while (list && list[n])
    n++;
  return n;
}

/* The converter's own checks of its result: a cJSON object with properties named. */
static void check_result(cJSON *result)
{
  if (!cJSON_IsObject(result))
    abort();
  cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(result, "properties"))
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "name")))
      abort();
}

#ifdef FUZZ_AFTER_EXTRACT
static void FUZZ_AFTER_EXTRACT(const struct cb_convert_input *in);
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  const struct converter *c = &CONVERTER;
  size_t ns = count(c->desc->suffixes), nt = count(c->ops->targets);
  char name[64];
  snprintf(name, sizeof name, "input%s", ns ? c->desc->suffixes[data[0] % ns] : "");
  data++, size--;
  fuzz_write(in_path, data, size);
  fuzz_rm_rf(work);
  if (mkdir(work, 0700))
    abort();
  const char *mime = magic_buffer(mime_cookie, data, size);
  char mime_copy[128], desc_copy[256];
  snprintf(mime_copy, sizeof mime_copy, "%s", mime ? mime : "");
  magic_setflags(desc_cookie, !strcmp(mime_copy, "text/plain") ? MAGIC_NO_CHECK_SOFT : MAGIC_NONE);
  const char *desc = magic_buffer(desc_cookie, data, size);
  snprintf(desc_copy, sizeof desc_copy, "%s", desc ? desc : "");
  struct cb_convert_input in = {.path = in_path, .name = name, .workdir = work, .mime = mime_copy,
                                .magic = desc_copy, .size = size};
  (void)converter_find(data, size < 65536 ? size : 65536, &in);

  struct cb_errbuf eb = {""};
  cJSON *result = cJSON_CreateObject();
  cb_err e = c->ops->extract(&in, result, progress, NULL, &eb);
  if (e && !eb.msg[0] && e != CB_ENOMEM && e != CB_EINVAL) {
    fprintf(stderr, "carboy fuzz: extract failed without saying why: %s\n", cb_strerror(e));
  }
  if (!e)
    check_result(result);
  cJSON_Delete(result);
#ifdef FUZZ_AFTER_EXTRACT
  FUZZ_AFTER_EXTRACT(&in);
#endif
  if (nt && c->ops->convert) {
    const char *to = c->ops->targets[(data[-1] / (ns ? ns : 1)) % nt];
    char outpath[600];
    snprintf(outpath, sizeof outpath, "%s/out.%s", work, to);
    eb.msg[0] = '\0';
    result = cJSON_CreateObject();
    e = c->ops->convert(&in, to, outpath, result, progress, NULL, &eb);
    cJSON_Delete(result);
  }
  if (c->ops->page_preview) { /* op preview: the second page, or one past the end */
    char outpath[600];
    snprintf(outpath, sizeof outpath, "%s/page.png", work);
    eb.msg[0] = '\0';
    result = cJSON_CreateObject();
    e = c->ops->page_preview(&in, 2 + (data[-1] & 1), outpath, result, progress, NULL, &eb);
    cJSON_Delete(result);
  }
  return 0;
}

#endif

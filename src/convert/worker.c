/* The worker child: `carboy worker`. Reads one request per line on stdin, answers on
 * stdout, one JSON object per line:
 *   -> {"op":"extract","path":P,"name":N,"workdir":W,"size":S}
 *   <- {"progress":0.5}                 (any number of times)
 *   <- {"ok":true,"result":{...}}  or  {"ok":false,"error":"..."}
 * Other ops: "convert" (to=FMT), "preview" (options.page: that page's thumbnail, a TIFF's
 * or a PDF's), "extract_many" (several small files in one round trip), "depict", "query",
 * "match" (chemistry), "unpack" (archives: the members written into the work folder,
 * their manifest as the result), and "train", "predict", "predict_file" (models:
 * convert/ml/learn.h).
 * It runs under the limits the parent set (memory, CPU time, file size); a crash or a hang
 * costs this process, never the server. Nothing but protocol goes to stdout. */
#include <errno.h>
#include <magic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "convert/archive/unpack.h"
#include "convert/converter.h"
#include "convert/ml/learn.h"
#include "util/confine.h"
#include "util/util.h"

static FILE *proto;

/* Paths as the server writes them and as this process reaches them: the same, but where
 * it runs as another uid without a mount namespace (CARBOY_WORKFD): then its work folder
 * is reached through the descriptor the server's confinement left it. */
static char view_server[4300], view_here[64];

static void remap(cJSON *node, const char *from, const char *to)
{
  size_t n = strlen(from);
  if (!node || !n)
    return;
  if (cJSON_IsString(node) && !strncmp(node->valuestring, from, n) &&
      (node->valuestring[n] == '/' || node->valuestring[n] == '\0')) {
    size_t len = strlen(to) + strlen(node->valuestring + n) + 1;
    char *v = malloc(len);
    if (v) {
      snprintf(v, len, "%s%s", to, node->valuestring + n);
      cJSON_SetValuestring(node, v);
      free(v);
    }
    return;
  }
  cJSON *child;
  cJSON_ArrayForEach(child, node) remap(child, from, to);
}

static int out_of_memory;

static void send_json(cJSON *o)
{
  char *text = o ? cJSON_PrintUnformatted(o) : NULL;
  if (text) {
    fputs(text, proto);
    fputc('\n', proto);
    cJSON_free(text);
  } else {
    /* no memory left to say more: a fixed answer, then this process ends */
    fputs("{\"ok\":false,\"exit\":true,\"error\":\"the converter ran out of memory\"}\n", proto);
    out_of_memory = 1;
  }
  fflush(proto);
}

struct progress_state {
  double last;
  uint64_t last_ns;
};

/* While a batch of extractions runs ("extract_many"), each item's answer goes into this
 * array instead of out, and the batch reports its own progress (items done), not theirs. */
static cJSON *collected;

static void progress(void *ctx, double f)
{
  struct progress_state *ps = ctx;
  if (collected)
    return;
  uint64_t now = cb_mono_ns();
  if (f < ps->last + 0.01 && f < 1.0)
    return;
  if (now - ps->last_ns < 100000000ull && f < 1.0) /* at most 10 a second */
    return;
  ps->last = f;
  ps->last_ns = now;
  fprintf(proto, "{\"progress\":%.4f}\n", f < 0 ? 0 : f > 1 ? 1 : f);
  fflush(proto);
}

/* Answers {"ok":true,"result":result} (taking result) or, when e is set,
 * {"ok":false,"error":msg} (deleting result). */
static void answer(cb_err e, const char *msg, cJSON *result)
{
  cJSON *o = cJSON_CreateObject();
  if (!o && collected) { /* no memory for this item's answer: the batch ends before it */
    out_of_memory = 1;
    cJSON_Delete(result);
    return;
  }
  if (out_of_memory && !collected)
    cJSON_AddTrueToObject(o, "exit"); /* the parent starts a fresh process next time */
  if (e) {
    cJSON_AddFalseToObject(o, "ok");
    cJSON_AddStringToObject(o, "error", msg);
    cJSON_Delete(result);
  } else {
    cJSON_AddTrueToObject(o, "ok");
    if (view_here[0])
      remap(result, view_here, view_server);
    cJSON_AddItemToObject(o, "result", result);
  }
  if (collected && o) {
    cJSON_AddItemToArray(collected, o);
    return;
  }
  send_json(o);
  cJSON_Delete(o);
}

static void answer_error(const char *msg)
{
  answer(CB_EINVAL, msg, NULL);
}

/* {"op":"depict","smiles":S,"workdir":W} -> {"ok":true,"result":{"path":W/depiction.svg}} */
static void handle_depict(cJSON *req)
{
  const cJSON *smiles = cJSON_GetObjectItemCaseSensitive(req, "smiles");
  const cJSON *workdir = cJSON_GetObjectItemCaseSensitive(req, "workdir");
  if (!cJSON_IsString(smiles) || !cJSON_IsString(workdir)) {
    answer_error("malformed request");
    return;
  }
  char path[4200];
  struct cb_errbuf eb = {""};
  snprintf(path, sizeof path, "%s/depiction.svg", workdir->valuestring);
  cb_err e = chem_depict(smiles->valuestring, path, &eb);
  cJSON *res = e ? NULL : cJSON_CreateObject();
  if (res)
    cJSON_AddStringToObject(res, "path", path);
  answer(e, eb.msg[0] ? eb.msg : cb_strerror(e), res);
}

/* {"op":"query","smiles"|"smarts":Q} and {"op":"match","smarts":P,"smiles":[...],"keys"?:[...]} */
static void handle_query(cJSON *req, int match)
{
  const cJSON *smiles = cJSON_GetObjectItemCaseSensitive(req, "smiles");
  const cJSON *smarts = cJSON_GetObjectItemCaseSensitive(req, "smarts");
  struct cb_errbuf eb = {""};
  cJSON *res = cJSON_CreateObject();
  cb_err e;
  if (match)
    e = cJSON_IsString(smarts) && cJSON_IsArray(smiles)
          ? chem_match(smarts->valuestring, smiles, cJSON_GetObjectItemCaseSensitive(req, "keys"), res, &eb)
          : CB_EINVAL;
  else
    e = cJSON_IsString(smiles) || cJSON_IsString(smarts)
          ? chem_query(cJSON_IsString(smiles) ? smiles->valuestring : NULL,
                       cJSON_IsString(smarts) ? smarts->valuestring : NULL, res, &eb)
          : CB_EINVAL;
  answer(e, eb.msg[0] ? eb.msg : "malformed request", res);
}

/* {"op":"unpack","path":P,"name":N,"workdir":W,"max_total_size"?:B,"max_member_size"?:B} -> the archive's
 * members written under W/files, their manifest as the result (archive/unpack.h). */
static void handle_unpack(cJSON *req)
{
  const cJSON *path = cJSON_GetObjectItemCaseSensitive(req, "path");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(req, "name");
  const cJSON *workdir = cJSON_GetObjectItemCaseSensitive(req, "workdir");
  const cJSON *max_total = cJSON_GetObjectItemCaseSensitive(req, "max_total_size");
  const cJSON *max_member = cJSON_GetObjectItemCaseSensitive(req, "max_member_size");
  if (!cJSON_IsString(path) || !cJSON_IsString(name) || !cJSON_IsString(workdir)) {
    answer_error("malformed request");
    return;
  }
  struct unpack_limits lim = {.max_total = UNPACK_MAX_TOTAL,
                              .max_entries = UNPACK_MAX_ENTRIES,
                              .max_ratio = UNPACK_MAX_RATIO,
                              .ratio_from = UNPACK_RATIO_FROM,
                              .max_member = 0};
  if (cJSON_IsNumber(max_total) && max_total->valuedouble >= 0 && max_total->valuedouble < (double)lim.max_total)
    lim.max_total = (uint64_t)max_total->valuedouble;
  if (cJSON_IsNumber(max_member) && max_member->valuedouble >= 1)
    lim.max_member = (uint64_t)max_member->valuedouble;
  struct cb_convert_input in = {.path = path->valuestring, .name = name->valuestring, .workdir = workdir->valuestring};
  struct stat sb;
  if (stat(in.path, &sb)) {
    answer_error("the file to read is missing");
    return;
  }
  in.size = (uint64_t)sb.st_size;
  struct progress_state ps = {0, 0};
  struct cb_errbuf eb = {""};
  cJSON *result = cJSON_CreateObject();
  cb_err e = archive_unpack(&in, &lim, result, progress, &ps, &eb);
  if (e == CB_ENOMEM)
    out_of_memory = 1;
  answer(e, eb.msg[0] ? eb.msg : cb_strerror(e), result);
}

/* {"op":"train"|"predict"|"predict_file", ...}: convert/ml/learn.h */
static void handle_learn(cJSON *req, const char *op)
{
  struct cb_errbuf eb = {""};
  struct progress_state ps = {0, 0};
  cJSON *res = cJSON_CreateObject();
  cb_err e;
  if (!strcmp(op, "train"))
    e = learn_train(req, res, progress, &ps, &eb);
  else if (!strcmp(op, "predict"))
    e = learn_predict(req, res, &eb);
  else
    e = learn_predict_file(req, res, progress, &ps, &eb);
  if (e == CB_ENOMEM)
    out_of_memory = 1;
  if (e) {
    cJSON_Delete(res);
    res = NULL;
  }
  answer(e, eb.msg[0] ? eb.msg : cb_strerror(e), res);
}

static void handle(magic_t mime_cookie, magic_t desc_cookie, cJSON *req);

/* {"op":"extract_many","items":[{"path":P,"name":N,"workdir":W}, ...]} -> {"ok":true,
 * "result":{"results":[answer, ...]}}: small files in one round trip, each item extracted
 * as "extract" would, with its own answer ({"ok":true,"result":...} or {"ok":false,
 * "error":...}). Running out of memory ends the batch there: the items left have no
 * answer, and the server runs them one by one. */
static void handle_many(magic_t mime_cookie, magic_t desc_cookie, cJSON *req)
{
  cJSON *items = cJSON_GetObjectItemCaseSensitive(req, "items");
  cJSON *results = cJSON_CreateArray();
  if (!cJSON_IsArray(items) || !results) {
    cJSON_Delete(results);
    answer_error(results ? "malformed request" : "the converter ran out of memory");
    return;
  }
  struct progress_state ps = {0, 0};
  int n = cJSON_GetArraySize(items), i = 0;
  cJSON *item;
  cJSON_ArrayForEach(item, items)
  {
    if (!cJSON_IsObject(item))
      break;
    cJSON *op = cJSON_GetObjectItemCaseSensitive(item, "op");
    if (op)
      cJSON_DeleteItemFromObjectCaseSensitive(item, "op");
    cJSON_AddStringToObject(item, "op", "extract"); /* nothing else comes in a batch */
    collected = results;
    handle(mime_cookie, desc_cookie, item);
    collected = NULL;
    progress(&ps, (double)++i / n);
    if (out_of_memory) {
      /* what ran out may be the earlier items' doing: this one runs again alone */
      if (cJSON_GetArraySize(results) == i)
        cJSON_DeleteItemFromArray(results, i - 1);
      break;
    }
  }
  cJSON *res = cJSON_CreateObject();
  if (res)
    cJSON_AddItemToObject(res, "results", results);
  else
    cJSON_Delete(results);
  answer(res ? CB_OK : CB_ENOMEM, "the converter ran out of memory", res);
}

/* Whether the text at s holds something a markup tag could start with at i ('<'): '<'
 * then '!', '?' or '/', or a name of letters, digits and '-' that ends in a blank, '>',
 * '/' or the end (<html>, <a href=, <?xml, <!DOCTYPE, </p>; not an address like
 * <name@host> or <https://...>, not "a < b"). */
static int tag_at(const unsigned char *s, size_t len, size_t i)
{
  size_t j = i + 1;
  if (j >= len)
    return 0;
  if (s[j] == '!' || s[j] == '?' || s[j] == '/')
    return 1;
  if (!((s[j] | 0x20) >= 'a' && (s[j] | 0x20) <= 'z'))
    return 0;
  while (j < len && (((s[j] | 0x20) >= 'a' && (s[j] | 0x20) <= 'z') || (s[j] >= '0' && s[j] <= '9') || s[j] == '-'))
    j++;
  return j == len || s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r' || s[j] == '>' || s[j] == '/';
}

/* A file named .txt whose bytes are plain text (UTF-8; no control character but tab, line
 * feed, form feed and carriage return; nothing that looks like a markup tag, so HTML, SVG
 * and XML keep their types) skips the magic database: its hundreds of tests (about a
 * millisecond, most of a small text file's ingest) could only name a narrower kind of
 * text (a script, PostScript) than the name does. libmagic's built-in tests still run on
 * it (JSON, CSV, the encoding). Everything else, .txt or not, meets the database. */
static int named_plain_text(const struct cb_convert_input *in, const unsigned char *head, size_t len, size_t cap)
{
  if (!len || !suffix_is(in->name, (const char *const[]){".txt", NULL}))
    return 0;
  for (size_t i = 0; i < len; i++)
    if ((head[i] == '<' && tag_at(head, len, i)) ||
        (head[i] < 0x20 && head[i] != '\t' && head[i] != '\n' && head[i] != '\f' && head[i] != '\r'))
      return 0;
  /* a head cut in the middle of a character is still text */
  for (size_t drop = 0; drop < (len == cap ? 4u : 1u) && drop < len; drop++)
    if (cb_utf8_valid((const char *)head, len - drop))
      return 1;
  return 0;
}

static void handle(magic_t mime_cookie, magic_t desc_cookie, cJSON *req)
{
  const cJSON *op = cJSON_GetObjectItemCaseSensitive(req, "op");
  if (cJSON_IsString(op) && !strcmp(op->valuestring, "extract_many") && !collected) {
    handle_many(mime_cookie, desc_cookie, req);
    return;
  }
  if (cJSON_IsString(op) && !strcmp(op->valuestring, "depict")) {
    handle_depict(req);
    return;
  }
  if (cJSON_IsString(op) && (!strcmp(op->valuestring, "query") || !strcmp(op->valuestring, "match"))) {
    handle_query(req, !strcmp(op->valuestring, "match"));
    return;
  }
  if (cJSON_IsString(op) && !strcmp(op->valuestring, "unpack")) {
    handle_unpack(req);
    return;
  }
  if (cJSON_IsString(op) && (!strcmp(op->valuestring, "train") || !strcmp(op->valuestring, "predict") ||
                             !strcmp(op->valuestring, "predict_file"))) {
    handle_learn(req, op->valuestring);
    return;
  }
  const cJSON *path = cJSON_GetObjectItemCaseSensitive(req, "path");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(req, "name");
  const cJSON *workdir = cJSON_GetObjectItemCaseSensitive(req, "workdir");
  const cJSON *to = cJSON_GetObjectItemCaseSensitive(req, "to");
  int is_convert = cJSON_IsString(op) && !strcmp(op->valuestring, "convert");
  int is_preview = cJSON_IsString(op) && !strcmp(op->valuestring, "preview");
  if (!cJSON_IsString(op) || (strcmp(op->valuestring, "extract") && !is_convert && !is_preview) ||
      !cJSON_IsString(path) || !cJSON_IsString(name) || !cJSON_IsString(workdir) ||
      (is_convert && !cJSON_IsString(to))) {
    answer_error("malformed request");
    return;
  }
  const cJSON *options = cJSON_GetObjectItemCaseSensitive(req, "options");
  struct cb_convert_input in = {.path = path->valuestring,
                                .name = name->valuestring,
                                .workdir = workdir->valuestring,
                                .options = cJSON_IsObject(options) ? options : NULL};
  struct stat sb;
  if (stat(in.path, &sb)) {
    answer_error("the file to read is missing");
    return;
  }
  in.size = (uint64_t)sb.st_size;
  unsigned char head[65536];
  size_t len = 0;
  FILE *f = fopen(in.path, "rb");
  if (f) {
    len = fread(head, 1, sizeof head, f);
    fclose(f);
  }
  int plain = named_plain_text(&in, head, len, sizeof head);
  if (mime_cookie)
    magic_setflags(mime_cookie, MAGIC_MIME_TYPE | (plain ? MAGIC_NO_CHECK_SOFT : 0));
  const char *mime = mime_cookie ? magic_buffer(mime_cookie, head, len) : NULL;
  /* Plain text is what the magic database found nothing for, so its description comes
   * from the encoding tests alone: skipping the database's hundreds of regular
   * expressions the second time halves libmagic's cost, which is most of a small text
   * file's ingest. */
  if (desc_cookie)
    magic_setflags(desc_cookie, mime && !strcmp(mime, "text/plain") ? MAGIC_NO_CHECK_SOFT : MAGIC_NONE);
  const char *desc = desc_cookie ? magic_buffer(desc_cookie, head, len) : NULL;
  char mime_copy[128] = "", desc_copy[256] = "";
  snprintf(mime_copy, sizeof mime_copy, "%s", mime ? mime : "");
  snprintf(desc_copy, sizeof desc_copy, "%s", desc ? desc : "");
  in.mime = mime_copy;
  in.magic = desc_copy;
  const struct converter *c = converter_find(head, len, &in);
  /* A batch item's folder is made here, when needed: the text converter makes it only if
   * it writes a copy (see text.c). */
  if ((is_convert || is_preview || c != &conv_text) && mkdir(in.workdir, 0700) && errno != EEXIST) {
    answer_error("cannot make the work folder");
    return;
  }
  cJSON *result = cJSON_CreateObject();
  cJSON_AddStringToObject(result, "converter", c->desc->name);
  if (!is_convert && !is_preview) { /* the type the file version is recorded with (media.c) */
    char media[160];
    convert_media_type(&in, head, len, sizeof head, media, sizeof media);
    cJSON_AddStringToObject(result, "detected_media_type", media);
  }
  struct progress_state ps = {0, 0};
  struct cb_errbuf eb = {""};
  cb_err e;
  const cJSON *page = in.options ? cJSON_GetObjectItemCaseSensitive(in.options, "page") : NULL;
  if (is_preview) {
    if (!c->ops->page_preview || !cJSON_IsNumber(page) || !(page->valuedouble >= 1 && page->valuedouble <= 1e6)) {
      cb_errf(&eb, c->ops->page_preview ? "a page is a whole number from 1" : "its files have only one page");
      e = CB_EINVAL;
    } else {
      char outpath[4200];
      snprintf(outpath, sizeof outpath, "%s/page.png", in.workdir);
      e = c->ops->page_preview(&in, (int)page->valuedouble, outpath, result, progress, &ps, &eb);
      if (!e)
        cJSON_AddStringToObject(result, "path", outpath);
    }
  } else if (is_convert) {
    int ok = 0;
    for (const char *const *t = c->ops->targets; t && *t && !ok; t++)
      ok = !strcmp(*t, to->valuestring);
    /* only plain format names become file suffixes */
    for (const char *p = to->valuestring; ok && *p; p++)
      ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
    if (!ok || !c->ops->convert) {
      char targets[200] = "";
      for (const char *const *t = c->ops->targets; t && *t; t++)
        snprintf(targets + strlen(targets), sizeof targets - strlen(targets), "%s%s", targets[0] ? ", " : "", *t);
      cb_errf(&eb, "%s files cannot be converted to '%.40s'; possible: %s", c->desc->name, to->valuestring,
              targets[0] ? targets : "none");
      e = CB_EINVAL;
    } else {
      char outpath[4200];
      snprintf(outpath, sizeof outpath, "%s/out.%s", in.workdir, to->valuestring);
      e = c->ops->convert(&in, to->valuestring, outpath, result, progress, &ps, &eb);
      if (!e)
        cJSON_AddStringToObject(result, "path", outpath);
    }
  } else {
    e = c->ops->extract(&in, result, progress, &ps, &eb);
  }
  if (e == CB_ENOMEM)
    out_of_memory = 1; /* answer, then make room for a fresh process */
  char msg[700] = "";
  if (is_convert && e == CB_EINVAL && strstr(eb.msg, "cannot be converted"))
    snprintf(msg, sizeof msg, "%s", eb.msg);
  else if (e)
    snprintf(msg, sizeof msg, "%s: %s", c->desc->name, eb.msg[0] ? eb.msg : cb_strerror(e));
  answer(e, msg, result);
}

#if CB_UNDER_ASAN
/* ASan's soft RSS limit (pool.c sets it) is watched by a thread of ASan's that a fork does
 * not carry over, and this process is forked into its PID namespace: so a thread of ours
 * watches instead, and ends the process the way running out of memory does. */
static long rss_limit_pages;

static void *watch_rss(void *arg)
{
  (void)arg;
  for (;;) {
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
      if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = 0;
      fclose(f);
    }
    if (resident > rss_limit_pages) {
      flockfile(proto); /* no other line begins after this one */
      static const char msg[] = "\n{\"ok\":false,\"exit\":true,\"error\":\"the converter ran out of memory\"}\n";
      fflush(proto);
      if (write(fileno(proto), msg, sizeof msg - 1) < 0)
        _exit(1);
      _exit(0);
    }
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static void watch_memory(void)
{
  const char *o = getenv("ASAN_OPTIONS"), *m = o ? strstr(o, "soft_rss_limit_mb=") : NULL;
  long mb = m ? atol(m + strlen("soft_rss_limit_mb=")) : 0;
  long page = sysconf(_SC_PAGESIZE);
  pthread_t t;
  if (mb <= 0 || page <= 0)
    return;
  rss_limit_pages = mb * (1048576 / page);
  if (!pthread_create(&t, NULL, watch_rss, NULL))
    pthread_detach(t);
}
#endif

int convert_worker_main(void)
{
  /* the last layers of the confinement the server set up (util/confine.h): the seccomp
   * filter, then the PID namespace its children are born into */
  const char *layers = getenv("CARBOY_CONFINE");
  int want = layers ? atoi(layers) : 0;
  if ((want & CONFINE_SECCOMP) && confine_seccomp()) {
    fprintf(stderr, "carboy worker: the seccomp filter could not be installed\n");
    return 126; /* never run half confined: the server names it */
  }
  if ((want & CONFINE_PIDNS) && confine_enter_pidns())
    return 126;
  /* stdout is the protocol; anything a library prints goes to stderr instead. */
  int fd = dup(1);
  proto = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!proto)
    return 1;
  dup2(2, 1);
#if CB_UNDER_ASAN
  watch_memory();
#endif
  const char *t = getenv("CARBOY_TEST_CONVERTERS");
  converter_enable_testing(t && !strcmp(t, "1"));
  const char *wd = getenv("CARBOY_WORKDIR"), *wfd = getenv("CARBOY_WORKFD");
  if (wd && wfd && strlen(wd) < sizeof view_server) {
    snprintf(view_server, sizeof view_server, "%s", wd);
    snprintf(view_here, sizeof view_here, "/proc/self/fd/%d", atoi(wfd));
  }
  magic_t mime_cookie = magic_open(MAGIC_MIME_TYPE);
  magic_t desc_cookie = magic_open(MAGIC_NONE);
  if (mime_cookie && magic_load(mime_cookie, NULL)) {
    magic_close(mime_cookie);
    mime_cookie = NULL;
  }
  if (desc_cookie && magic_load(desc_cookie, NULL)) {
    magic_close(desc_cookie);
    desc_cookie = NULL;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) > 0) {
    cJSON *req = cJSON_ParseWithLength(line, (size_t)n);
    if (view_here[0])
      remap(req, view_server, view_here);
    cJSON *cpu = cJSON_GetObjectItemCaseSensitive(req, "cpu_s");
    if (cJSON_IsNumber(cpu) && cpu->valuedouble >= 1) { /* this request's CPU budget (pool.c) */
      struct rusage ru;
      struct rlimit rl;
      if (!getrusage(RUSAGE_SELF, &ru) && !getrlimit(RLIMIT_CPU, &rl)) {
        rlim_t used = (rlim_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1);
        rl.rlim_cur = used + (rlim_t)cpu->valuedouble;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
          rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_CPU, &rl);
      }
    }
    if (!req)
      answer_error("request is not JSON");
    else
      handle(mime_cookie, desc_cookie, req);
    cJSON_Delete(req);
    if (out_of_memory)
      break;
  }
  free(line);
  if (mime_cookie)
    magic_close(mime_cookie);
  if (desc_cookie)
    magic_close(desc_cookie);
  fclose(proto);
  /* End of input: the server died (it stops its converters with SIGKILL otherwise).
   * Open Babel's plugins keep what they loaded for the life of the process, so exit at
   * once: a leak check at exit (ASan builds) would report only those. */
  if (!out_of_memory)
    _exit(0);
  return 0;
}

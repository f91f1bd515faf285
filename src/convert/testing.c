/* Converters that misbehave on purpose, to prove the sandbox: they claim files named
 * *.crash-test, *.hang-test, *.oom-test, *.fail-test and *.slow-test, and only when the
 * worker runs with CARBOY_TEST_CONVERTERS=1 (see registry.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "convert/converter.h"

#define TEST_CONVERTER(id, suffix, fn)                                                        \
  static const char *const id##_suffixes[] = {suffix, NULL};                                \
  static int id##_sniff(const unsigned char *h, size_t l, const struct cb_convert_input *in) \
  {                                                                                         \
    (void)h, (void)l;                                                                       \
    return suffix_is(in->name, id##_suffixes) ? 100 : 0;                                    \
  }                                                                                         \
  static const struct converter_desc id##_desc = {#id, "other", id##_suffixes, id##_sniff}; \
  static const struct converter_ops id##_ops = {fn, NULL, NULL};                                        \
  const struct converter conv_##id = {&id##_desc, &id##_ops};

static cb_err crash(const struct cb_convert_input *in, cJSON *r, cb_progress_fn p, void *c, char *e, size_t n)
{
  (void)in, (void)r, (void)p, (void)c, (void)e, (void)n;
  raise(SIGSEGV);
  return CB_EINVAL;
}

static cb_err hang(const struct cb_convert_input *in, cJSON *r, cb_progress_fn p, void *c, char *e, size_t n)
{
  (void)in, (void)r, (void)p, (void)c, (void)e, (void)n;
  for (;;)
    sleep(1);
  return CB_EINVAL;
}

static cb_err oom(const struct cb_convert_input *in, cJSON *r, cb_progress_fn p, void *c, char *e, size_t n)
{
  (void)in, (void)r, (void)p, (void)c;
  void **chain = NULL; /* every block keeps the previous one, so all can be freed */
  for (size_t total = 0;; total += 16u << 20) {
    void **block = malloc(16u << 20);
    if (!block) {
      snprintf(e, n, "out of memory after %zu MiB", total >> 20);
      while (chain) {
        void **prev = *chain;
        free(chain);
        chain = prev;
      }
      return CB_ENOMEM;
    }
    memset(block, 1, 16u << 20); /* touch it: resident, not just reserved */
    *block = chain;
    chain = block;
  }
}

static cb_err fail(const struct cb_convert_input *in, cJSON *r, cb_progress_fn p, void *c, char *e, size_t n)
{
  (void)in, (void)r, (void)p, (void)c;
  snprintf(e, n, "this file is malformed on purpose");
  return CB_EINVAL;
}

/* The milliseconds a slow or spin test file asks for: its content, a number up to 600000
 * (3000 when it says none). */
static long file_ms(const char *path)
{
  long ms = 3000;
  FILE *f = fopen(path, "r");
  if (f) {
    if (fscanf(f, "%ld", &ms) != 1 || ms < 0 || ms > 600000)
      ms = 3000;
    fclose(f);
  }
  return ms;
}

/* Takes as many milliseconds as the file's content says (default 3000), reporting
 * progress ten times. */
static cb_err slow(const struct cb_convert_input *in, cJSON *r, cb_progress_fn p, void *c, char *e, size_t n)
{
  (void)e, (void)n;
  long ms = file_ms(in->path);
  for (int i = 1; i <= 10; i++) {
    struct timespec ts = {ms / 10 / 1000, (ms / 10 % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    p(c, i / 10.0);
  }
  result_prop_num(r, "slept_ms", (double)ms, "ms", NULL);
  return CB_OK;
}

/* Burns as many milliseconds of CPU time as the file's content says (default 3000). */
static cb_err spin(const struct cb_convert_input *in, cJSON *r, cb_progress_fn p, void *c, char *e, size_t n)
{
  (void)e, (void)n, (void)p, (void)c;
  long ms = file_ms(in->path);
  struct timespec t0, t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  volatile unsigned long x = 0;
  do {
    for (int i = 0; i < 100000; i++)
      x += (unsigned long)i;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
  result_prop_num(r, "spun_ms", (double)ms, "ms", NULL);
  return CB_OK;
}

TEST_CONVERTER(test_crash, ".crash-test", crash)
TEST_CONVERTER(test_hang, ".hang-test", hang)
TEST_CONVERTER(test_oom, ".oom-test", oom)
TEST_CONVERTER(test_fail, ".fail-test", fail)
TEST_CONVERTER(test_slow, ".slow-test", slow)
TEST_CONVERTER(test_spin, ".spin-test", spin)

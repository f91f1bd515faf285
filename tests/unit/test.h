/* A minimal unit-test harness: CHECK records failures and keeps going; main prints a
 * summary line and returns non-zero when anything failed. */
#ifndef CB_TEST_H
#define CB_TEST_H
#include <stdio.h>

static int t_passed, t_failed;
#define CHECK(cond)                                                          \
  do {                                                                       \
    if (cond) {                                                              \
      t_passed++;                                                            \
    } else {                                                                 \
      t_failed++;                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                        \
  } while (0)
#define TEST_MAIN_END()                                              \
  do {                                                               \
    printf("%d checks passed, %d failed\n", t_passed, t_failed);     \
    return t_failed ? 1 : 0;                                         \
  } while (0)
#endif

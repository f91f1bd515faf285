/* Files compiled into the binary by tools/embed.py. */
#ifndef CB_EMBEDDED_H
#define CB_EMBEDDED_H
#include <stddef.h>

struct cb_embedded {
  const char *name;          /* base name of the source file */
  const unsigned char *data; /* contents, followed by one NUL */
  size_t len;                /* length without the NUL */
};

const struct cb_embedded *cb_embedded_find(const struct cb_embedded *table, const char *name);

#endif

/* Unpacking archives (zip, tar, tar.gz/.bz2/.xz, a lone .gz/.bz2/.xz) into a worker's work
 * folder, for the `unpack` job. In the worker process only. Not named archive.h: that is
 * libarchive's <archive.h>, which archive.c includes. */
#ifndef CB_CONVERT_ARCHIVE_UNPACK_H
#define CB_CONVERT_ARCHIVE_UNPACK_H
#include <cjson/cJSON.h>
#include <stdint.h>

#include "convert/converter.h"

struct unpack_limits {
  uint64_t max_total;   /* bytes written over all members */
  uint64_t max_entries; /* entries of any type */
  double max_ratio;     /* uncompressed : compressed of one entry ... */
  uint64_t ratio_from;  /* ... once it has written more than this many bytes */
  uint64_t max_member;  /* bytes of one member (the server's largest accepted file); 0: none */
};
#define UNPACK_MAX_TOTAL (8ull << 30)
#define UNPACK_MAX_ENTRIES 10000
#define UNPACK_MAX_RATIO 1000.0
#define UNPACK_RATIO_FROM (1ull << 20)

/* Writes the regular files of the archive at in->path one after another into the one file
 * WORKDIR/members (a file per member cost more than the small members themselves: an
 * inode made, copied, removed) and reports
 *   {"members":"members", "files":[{"path":"a/b.txt","offset":O,"size":S}],
 *    "dirs":["a","a/c"], "skipped":[{"path","reason"}], "entries":N, "total_size":S}
 * (a member's bytes are members[O, O+S))
 * where each path is relative, '/'-separated, each component a valid file name. Absolute
 * paths, ".." components, invalid names, encrypted entries, a member over max_member, and
 * the other limits fail the whole
 * unpack (CB_EINVAL, eb says which entry and why); links, devices and other special
 * entries are skipped (listed in "skipped"). A path met twice keeps its last content. */
cb_err archive_unpack(const struct cb_convert_input *in, const struct unpack_limits *lim, cJSON *result,
                      cb_progress_fn progress, void *pctx, struct cb_errbuf *eb);

#endif

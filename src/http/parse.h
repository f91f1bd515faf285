/* Pure parsers of client input that live as static functions beside their handlers,
 * exposed (as thin wrappers, behaviour unchanged) for the fuzz targets in tests/fuzz. */
#ifndef CB_HTTP_PARSE_H
#define CB_HTTP_PARSE_H
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

/* server.c: the dispatcher's path match (per-segment URL decoding into params, which the
 * caller frees; left empty on a mismatch). 1 on a match. */
int http_path_match(const char *pattern, const char *path, char **params);
/* tus.c: a base64 value of an Upload-Metadata header (1 found, 0 absent, -1 malformed),
 * the Upload-Length/Upload-Offset number (0, or -1 when it does not read), and standard
 * base64, padded or not, as in Upload-Checksum (the bytes decoded, or -1). */
int tus_metadata_get(const char *meta, const char *key, char *out, size_t cap);
int tus_parse_number(const char *s, uint64_t *out);
long tus_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap);
/* search.c: q= as an FTS5 query (malloc'd; NULL without words), and one where=
 * NAME:OP:VALUE, cut in place (0, or -1 when it does not read). */
char *search_fts_query(const char *q);
int search_parse_where(char *text, struct db_where *w);

#endif
